"""The consent log page (per role, filters, pages), its signed exports, the call page's block
and the API's call detail."""

from __future__ import annotations

import csv
import hashlib
import io
import json

import pytest
from django.http import QueryDict
from hypothesis import given
from hypothesis import strategies as st

from ringadmin.compliance.consent import consent_record_at_call_start
from ringadmin.compliance.consent_models import ConsentRecord
from ringadmin.compliance.consent_search import ConsentQuery
from ringadmin.compliance.exports import manifest_problems
from ringadmin.compliance.models import AuditEvent, AuditEventType
from tests.factories import CallFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def records():
    """Two calls: one without a notice (an exception) whose agent id looks like a formula."""
    flagged = CallFactory(agent_id="=HYPERLINK(1)", ringcx_call_id="flagged")
    consent_record_at_call_start(call=flagged, notice_series_id=None)
    plain = CallFactory(agent_id="42", ringcx_call_id="plain", product_type="Campaign")
    ConsentRecord.objects.create(call=plain, method="beep", outcome="notice_given")
    return {"flagged": flagged, "plain": plain}


@pytest.mark.parametrize(
    ("role", "status"), [("auditor", 200), ("admin", 200), ("supervisor", 403), (None, 302)]
)
def test_the_page_per_role(client, make_user, records, role, status) -> None:
    if role is not None:
        client.force_login(make_user(role))
    response = client.get("/consent/")
    assert response.status_code == status
    if status == 200:
        assert b"flagged" in response.content
        assert b"plain" in response.content


def test_filters_narrow_and_bad_values_are_reported(client, make_user, records) -> None:
    client.force_login(make_user("auditor"))
    page = client.get("/consent/?exceptions=yes").content
    assert b"flagged" in page
    assert b"plain" not in page
    page = client.get("/consent/?product=campaign&outcome=bogus&from=2026-99-01").content.decode()
    assert "plain" in page
    assert "flagged" not in page
    assert "is not one of the choices" in page
    assert "use a date like" in page


def test_keyset_pages(client, make_user, records, monkeypatch) -> None:
    monkeypatch.setattr("ringadmin.compliance.consent_search.PAGE_SIZE", 1)
    client.force_login(make_user("auditor"))
    first = client.get("/consent/")
    assert first.context["page"].rows[0].call_id == records["plain"].pk
    older = first.context["page"].next_before
    second = client.get(f"/consent/?before={older}")
    assert [r.call_id for r in second.context["page"].rows] == [records["flagged"].pk]


@given(st.lists(st.tuples(st.text(max_size=12), st.text(max_size=30)), max_size=8))
def test_any_query_string_parses(pairs) -> None:
    params = QueryDict(mutable=True)
    for key, value in pairs:
        params.appendlist(key, value)
    query, errors = ConsentQuery.from_params(params)
    assert isinstance(query, ConsentQuery)
    assert all(isinstance(e, str) for e in errors)


def _download(client, url: str) -> tuple[bytes, dict]:
    response = client.get(url)
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    manifest = client.get(response["X-Export-Manifest"])
    assert manifest.status_code == 200
    return body, manifest.json()


def test_csv_export_is_neutralised_signed_and_audited(client, make_user, records) -> None:
    auditor = make_user("auditor", username="aud")
    client.force_login(auditor)
    body, manifest = _download(client, "/consent/export.csv?exceptions=yes")
    rows = list(csv.DictReader(io.StringIO(body.decode(), newline="")))
    assert [r["ringcx_call_id"] for r in rows] == ["flagged"]
    assert rows[0]["agent_id"] == "'=HYPERLINK(1)"
    assert rows[0]["call_started_at"].endswith("+00:00")
    assert manifest["rows"] == 1
    assert manifest["sha256"] == hashlib.sha256(body).hexdigest()
    assert manifest["filters"] == {"exceptions": "yes"}
    assert manifest["who"] == "aud"
    assert manifest_problems(manifest=manifest, file_bytes=[body]) == []
    assert manifest_problems(manifest=manifest, file_bytes=[body.replace(b"flagged", b"flagges")])
    event = AuditEvent.objects.get(event_type=AuditEventType.CONSENT_EXPORTED)
    assert event.data["filters"] == {"exceptions": "yes"}
    assert event.actor == auditor


def test_jsonl_export_and_manifest_is_only_the_exporters(client, make_user, records) -> None:
    client.force_login(make_user("auditor"))
    body, manifest = _download(client, "/consent/export.jsonl")
    lines = [json.loads(line) for line in body.decode().splitlines()]
    assert {line["ringcx_call_id"] for line in lines} == {"flagged", "plain"}
    assert manifest["rows"] == 2
    client.force_login(make_user("auditor"))
    url = f"/consent/exports/{manifest['export_id']}/manifest.json"
    assert client.get(url).status_code == 404
    assert client.get("/consent/export.xlsx").status_code == 404


def test_supervisors_cannot_export(client, make_user, records) -> None:
    client.force_login(make_user("supervisor"))
    assert client.get("/consent/export.csv").status_code == 403


def test_the_call_page_shows_consent(client, make_user, records) -> None:
    client.force_login(make_user("supervisor"))
    page = client.get(f"/calls/{records['flagged'].pk}/").content.decode()
    assert 'id="consent-heading"' in page
    assert "No notice" in page


def test_the_api_call_detail_includes_consent(make_user, records) -> None:
    from rest_framework.test import APIClient

    from ringadmin.api_tokens.services import api_token_create

    issued = api_token_create(user=make_user("auditor"), name="t")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    detail = client.get(f"/api/v1/calls/{records['flagged'].pk}/").json()
    assert detail["consent"]["outcome"] == "no_notice"
    assert detail["consent"]["exception"] is True
    plain = client.get(f"/api/v1/calls/{records['plain'].pk}/").json()
    assert plain["consent"]["method"] == "beep"
