"""Every role against every page and socket of the supervisors' and auditors' side, allowed and
denied, in one table: anonymous visitors, a user with no role, supervisors, auditors, admins.

The API has its own table (``tests/monitoring/api/test_access.py``); the agent iFrame is keyed
by its profile's embed key, not by a role (``tests/monitoring/test_agent_client.py``).
"""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model

from ringadmin.asgi import application
from ringadmin.calls.models import CallStatus
from tests.monitoring.test_call_events_socket import _session_cookie

ROLES = ("anonymous", "no role", "supervisor", "auditor", "admin")

# page (``{id}``: a finished call with recording, analysis and transcript) → roles allowed
PAGES: dict[str, set[str]] = {
    "/calls/": {"supervisor", "auditor", "admin"},
    "/calls/{id}/": {"supervisor", "auditor", "admin"},
    "/calls/{id}/peaks.json": {"supervisor", "auditor", "admin"},
    "/calls/{id}/transcript.txt": {"supervisor", "auditor", "admin"},
    "/calls/{id}/transcript.json": {"supervisor", "auditor", "admin"},
    "/calls/{id}/transcript.vtt": {"supervisor", "auditor", "admin"},
    "/calls/{id}/recording.wav": {"supervisor", "admin"},
    "/calls/{id}/recording/download": {"admin"},
    "/calls/live/": {"supervisor", "admin"},
    "/calls/{id}/live/": {"supervisor", "admin"},
    "/audit/": {"auditor", "admin"},
    "/audit/export.csv": {"auditor"},
    "/audit/export.jsonl": {"auditor"},
    "/holds/": {"auditor", "admin"},
}
SOCKETS: dict[str, set[str]] = {
    "/ws/calls/live/": {"supervisor", "admin"},
    "/ws/calls/{id}/events/": {"supervisor", "admin"},
}


@pytest.fixture
def user_of(make_user):
    def make(role: str):
        if role == "anonymous":
            return None
        if role == "no role":
            return get_user_model().objects.create_user("nobody", password="pw-Long-enough-1")
        return make_user(role)

    return make


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", list(PAGES))
def test_each_role_against_each_page(client, user_of, recorded_call, role, page) -> None:
    user = user_of(role)
    if user is not None:
        client.force_login(user)
    url = page.format(id=recorded_call.call.pk)
    response = client.get(url)
    if role in PAGES[page]:
        # a finished call's live page sends the viewer on to the call's page
        expected = 302 if page.endswith("/live/") and "{id}" in page else 200
        assert response.status_code == expected, (role, url)
        if response.streaming:
            b"".join(response.streaming_content)  # type: ignore[arg-type]
    elif user is None:
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/?next=")
    else:
        assert response.status_code == 403, (role, url)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("socket", list(SOCKETS))
async def test_each_role_against_each_socket(user_of, recorded_call, role, socket) -> None:
    call = recorded_call.call
    call.status = CallStatus.LIVE
    await database_sync_to_async(call.save)(update_fields=["status"])
    user = await database_sync_to_async(user_of)(role)
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if user is not None:
        headers.append((b"cookie", await database_sync_to_async(_session_cookie)(user)))
    ws = WebsocketCommunicator(application, socket.format(id=call.pk), headers=headers)
    connected, code = await ws.connect()
    try:
        if role in SOCKETS[socket]:
            assert connected, (role, socket)
        else:
            assert (connected, code) == (False, 4403), (role, socket)
    finally:
        await ws.disconnect()
