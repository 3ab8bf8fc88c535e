"""The OpenAPI schema is generated, valid and warning-free, and its readers are served from our
own static files."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db

PATHS = {
    "/api/v1/calls/",
    "/api/v1/calls/{id}/",
    "/api/v1/calls/{id}/transcript",
    "/api/v1/calls/{id}/recording",
    "/api/v1/audit-events/",
}


def test_the_served_schema_is_valid_openapi(api_client_for):
    response = api_client_for("supervisor").get("/api/v1/schema", {"format": "json"})
    assert response.status_code == 200
    schema = json.loads(response.content)
    validate_schema(schema)  # raises on any violation of the OpenAPI 3 specification
    assert set(schema["paths"]) == PATHS
    assert schema["components"]["securitySchemes"]["apiToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["apiToken"]["description"],
    }
    transcript = schema["paths"]["/api/v1/calls/{id}/transcript"]["get"]["responses"]["200"]
    assert set(transcript["content"]) == {"application/json", "text/vtt"}
    recording = schema["paths"]["/api/v1/calls/{id}/recording"]["get"]["responses"]
    assert {"200", "206", "401", "403", "404", "416"} <= set(recording)


def test_the_schema_command_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "/api/v1/calls/{id}/recording" in out.read_text()


@pytest.mark.parametrize(("page", "asset"), [("docs", "swagger-ui"), ("redoc", "redoc")])
def test_the_docs_load_nothing_from_another_host(client, make_user, page, asset):
    client.force_login(make_user("auditor"))
    response = client.get(f"/api/v1/{page}")
    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources
    assert not [s for s in sources if s.startswith(("http:", "https:", "//"))]
    local = [s for s in sources if "drf_spectacular_sidecar" in s and asset in s]
    assert local, sources
    for url in local:
        assert finders.find(url.split("/static/", 1)[1]), url


def test_redoc_may_fetch_images_and_fonts_from_this_site_only(client, make_user):
    """Redoc's bundle shows its maker's logo from a CDN; the page's policy refuses it."""
    client.force_login(make_user("auditor"))
    html = client.get("/api/v1/redoc").content.decode()
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1)
    assert "img-src 'self' data: blob:" in policy
    assert "font-src 'self' data:" in policy
