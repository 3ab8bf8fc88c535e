"""The live calls page, a call's live page, and the admin's agent iFrame URL and rotation."""

from __future__ import annotations

import html

import pytest

from ringadmin.calls.models import CallStatus
from ringadmin.compliance.models import AuditEvent, AuditEventType
from streaming.models import StreamingProfile
from tests.factories import CallFactory, make_streaming_profile

pytestmark = pytest.mark.django_db


@pytest.fixture
def supervisor_client(client, make_user):
    client.force_login(make_user("supervisor"))
    return client


def test_the_live_calls_page_opens_its_socket(supervisor_client) -> None:
    response = supervisor_client.get("/calls/live/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-socket="/ws/calls/live/"' in page
    assert "monitoring/live_calls.js" in page
    assert 'role="status"' in page


@pytest.mark.parametrize("path", ["/calls/live/", "/calls/1/live/"])
def test_the_live_pages_need_the_live_permission(client, make_user, path) -> None:
    assert client.get(path).status_code == 302  # to the login page
    client.force_login(make_user("auditor"))
    assert client.get(path).status_code == 403


def test_a_live_call_page_shows_the_call_and_its_meters(supervisor_client) -> None:
    call = CallFactory(status=CallStatus.LIVE, agent_id="7", ani="5551234")
    page = supervisor_client.get(f"/calls/{call.pk}/live/").content.decode()
    assert f'data-socket="/ws/calls/{call.pk}/events/"' in page
    assert f'data-call-page="/calls/{call.pk}/"' in page
    assert page.count("<meter") == 2
    assert 'aria-label="Agent level"' in page
    assert 'aria-label="Caller level"' in page
    assert "5551234" in page


def test_an_ended_call_opens_its_call_page(supervisor_client) -> None:
    call = CallFactory(status=CallStatus.COMPLETED)
    response = supervisor_client.get(f"/calls/{call.pk}/live/")
    assert (response.status_code, response["Location"]) == (302, f"/calls/{call.pk}/")


def test_an_unknown_call_is_404(supervisor_client) -> None:
    assert supervisor_client.get("/calls/999999/live/").status_code == 404


def test_the_admin_shows_the_script_studio_url_and_rotates_the_key(client, make_user) -> None:
    admin = make_user("admin")
    client.force_login(admin)
    profile = make_streaming_profile()
    page = client.get(f"/admin/streaming/streamingprofile/{profile.pk}/change/").content.decode()
    expected = f"https://testserver/client?callId={{{{model.call.uii}}}}&key={profile.embed_key}"
    assert html.escape(expected) in page
    old_key = profile.embed_key
    client.post(
        "/admin/streaming/streamingprofile/",
        {"action": "rotate_embed_key", "_selected_action": [str(profile.pk)]},
        follow=True,
    )
    profile.refresh_from_db()
    assert profile.embed_key != old_key
    rotated = AuditEvent.objects.filter(
        event_type=AuditEventType.PROFILE_CHANGED, data__embed_key_rotated=True
    )
    assert [(e.actor_id, e.target_id) for e in rotated] == [(admin.pk, str(profile.pk))]
    assert StreamingProfile.objects.filter(embed_key=old_key).count() == 0
