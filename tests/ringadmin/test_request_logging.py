"""Refused requests are one log line; real errors keep their traceback; every request's line
carries its request id. Through the real settings' logging configuration (its console
handler, filters and format)."""

from __future__ import annotations

import io
import logging

import pytest
from django.core.exceptions import BadRequest, PermissionDenied
from django.http import Http404
from django.test import Client
from django.urls import path

from ringadmin.urls import urlpatterns as application_urls

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


def _refuse(request):
    raise PermissionDenied


def _missing(request):
    raise Http404("no such call")


def _bad(request):
    raise BadRequest("the page number is not a number")


def _boom(request):
    raise RuntimeError("an unexpected failure for the test")


urlpatterns = [
    path("test/refuse/", _refuse),
    path("test/missing/", _missing),
    path("test/bad/", _bad),
    path("test/boom/", _boom),
    *application_urls,
]


@pytest.fixture
def console():
    """What the settings' console handler writes, while the test runs."""
    (handler,) = [h for h in logging.getLogger().handlers if h.get_name() == "console"]
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


def _lines(console: io.StringIO) -> list[str]:
    return [line for line in console.getvalue().splitlines() if line.strip()]


def test_a_supervisor_refused_the_audit_trail_is_one_line(client, make_user, console) -> None:
    client.force_login(make_user("supervisor"))
    response = client.get("/audit/", HTTP_X_REQUEST_ID="refused-1")
    assert response.status_code == 403
    (line,) = _lines(console)
    assert "WARNING django.request [req=refused-1 " in line
    assert line.endswith("Forbidden (Permission denied): /audit/")


@pytest.mark.parametrize(
    ("url", "status", "message"),
    [
        ("/test/refuse/", 403, "Forbidden (Permission denied): /test/refuse/"),
        ("/test/missing/", 404, "Not Found: /test/missing/"),
        ("/no/such/page/", 404, "Not Found: /no/such/page/"),
        ("/test/bad/", 400, "the page number is not a number: /test/bad/"),
    ],
)
def test_refused_requests_are_one_line_with_their_request_id(
    client, console, url: str, status: int, message: str
) -> None:
    assert client.get(url, HTTP_X_REQUEST_ID="refused-2").status_code == status
    (line,) = _lines(console)
    assert "[req=refused-2 " in line
    assert line.endswith(message)


def test_a_bad_host_is_one_line(console) -> None:
    response = Client().get("/login/", HTTP_HOST="attacker.example")
    assert response.status_code == 400
    (line,) = _lines(console)
    assert "ERROR   django.security.DisallowedHost " in line
    assert "Invalid HTTP_HOST header: 'attacker.example'" in line


def test_a_real_error_still_logs_its_traceback(console) -> None:
    response = Client(raise_request_exception=False).get("/test/boom/", HTTP_X_REQUEST_ID="boom-1")
    assert response.status_code == 500
    text = console.getvalue()
    assert "ERROR   django.request [req=boom-1 " in text
    assert "Internal Server Error: /test/boom/" in text
    assert "Traceback (most recent call last):" in text
    assert "RuntimeError: an unexpected failure for the test" in text
