"""Who may open which list page and export: every role against every page, allowed and denied;
the styled 403 and 404 pages; a refusal is one log line on every handler."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db

PAGES = ["/calls/", "/audit/", "/audit/export.csv", "/audit/export.jsonl"]
ALLOWED = {
    "no role": set(),
    "supervisor": {"/calls/"},
    "auditor": {"/calls/", "/audit/", "/audit/export.csv", "/audit/export.jsonl"},
    "admin": {"/calls/", "/audit/"},  # admins read the trail; exporting it is the auditors'
}


@pytest.fixture
def user_of(make_user):
    def make(role: str):
        if role == "no role":
            return get_user_model().objects.create_user("nobody", password="pw-Long-enough-1")
        return make_user(role)

    return make


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={page}"


@pytest.mark.parametrize("role", list(ALLOWED))
@pytest.mark.parametrize("page", PAGES)
def test_each_role_against_each_page(client, user_of, role: str, page: str) -> None:
    client.force_login(user_of(role))
    response = client.get(page)
    if page in ALLOWED[role]:
        assert response.status_code == 200
        if page.startswith("/audit/export"):
            assert response.streaming
            b"".join(response.streaming_content)  # type: ignore[arg-type]
    else:
        assert response.status_code == 403
        html = response.content.decode()
        assert "You can&#x27;t open this page" in html or "You can't open this page" in html
        assert 'href="#content">Skip to content' in html  # the site's own layout, with its nav


def test_the_403_page_has_the_navigation_of_the_role(client, make_user) -> None:
    client.force_login(make_user("supervisor"))
    html = client.get("/audit/").content.decode()
    assert '<nav class="main-nav" aria-label="Main">' in html
    assert 'href="/calls/">Calls</a>' in html
    assert "Audit trail</a>" not in html  # not offered to a role that may not open it


def test_the_404_page_is_styled_with_navigation(client, make_user) -> None:
    client.force_login(make_user("auditor"))
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "This page doesn" in html
    assert 'href="/audit/">Audit trail</a>' in html


def test_a_refusal_is_one_line_without_traceback_for_every_handler(
    client, make_user, caplog
) -> None:
    """Before, only the settings' console handler dropped the traceback; a handler attached to
    ``django.request`` itself (as error trackers do) still received the exception and printed
    a traceback for an ordinary refusal. Now the record itself is one line."""
    client.force_login(make_user("supervisor"))
    request_logger = logging.getLogger("django.request")
    request_logger.addHandler(caplog.handler)  # sees the record before the root's handlers do
    try:
        assert client.get("/audit/export.csv").status_code == 403
    finally:
        request_logger.removeHandler(caplog.handler)
    records = [r for r in caplog.records if r.name == "django.request"]
    assert len(records) == 2  # this handler, then the root's capture: the same one record
    record = records[0]
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    assert record.getMessage() == "Forbidden (Permission denied): /audit/export.csv"
    assert "Traceback" not in caplog.text
    lines = caplog.text.strip().splitlines()
    assert len(lines) == 2
    assert all(line.endswith("Forbidden (Permission denied): /audit/export.csv") for line in lines)


def test_navigation_marks_the_current_page_and_skips_to_content(client, make_user) -> None:
    client.force_login(make_user("auditor"))
    html = client.get("/audit/").content.decode()
    assert '<a class="skip-link" href="#content">Skip to content</a>' in html
    assert '<main id="content" tabindex="-1">' in html
    assert 'href="/audit/" aria-current="page">Audit trail</a>' in html
    assert 'href="/calls/">Calls</a>' in html
    assert 'href="/consent/">Consent</a>' in html  # auditors see the consent log
    # pages not built yet are not linked
    assert "Live calls" not in html


def test_the_consent_log_is_not_linked_for_those_who_may_not_open_it(client, make_user) -> None:
    client.force_login(make_user("supervisor"))
    assert "Consent" not in client.get("/calls/").content.decode()


@pytest.mark.urls("tests.ringadmin.urls_with_future_pages")
def test_navigation_links_live_calls_and_consent_once_they_exist(client, make_user) -> None:
    client.force_login(make_user("admin"))
    html = client.get("/calls/").content.decode()
    assert 'href="/calls/live/">Live calls</a>' in html
    assert 'href="/consent/">Consent</a>' in html
    assert 'href="/calls/" aria-current="page">Calls</a>' in html


def test_the_demo_banner_stays(client, make_user, settings) -> None:
    settings.RINGADMIN_DEMO_FAKE = True
    client.force_login(make_user("supervisor"))
    assert (
        "Demo mode: RingCentral and RingCX are a local fake"
        in client.get("/calls/").content.decode()
    )
