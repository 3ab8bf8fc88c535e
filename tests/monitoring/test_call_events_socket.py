"""Browsers' live call events at /ws/calls/<id>/events/, through the real ASGI application."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async as sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from ringadmin.asgi import application
from ringadmin.calls.groups import call_group_name
from tests.factories import CallFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def _session_cookie(user) -> bytes:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}".encode()


async def _open(user, call_id: int, origin: bytes = b"http://testserver"):
    headers = [(b"origin", origin), (b"host", b"testserver")]
    if user is not None:
        headers.append((b"cookie", await sync_to_async(_session_cookie)(user)))
    return WebsocketCommunicator(application, f"/ws/calls/{call_id}/events/", headers=headers)


async def test_supervisor_receives_the_call_events(make_user) -> None:
    supervisor = await sync_to_async(make_user)("supervisor")
    call = await sync_to_async(CallFactory)()
    ws = await _open(supervisor, call.pk)
    connected, _ = await ws.connect()
    assert connected
    await get_channel_layer().group_send(
        call_group_name(call.pk),
        {"type": "call.event", "payload": {"type": "call.progress", "seconds": 1.2}},
    )
    assert await ws.receive_json_from(timeout=5) == {"type": "call.progress", "seconds": 1.2}
    await ws.disconnect()


@pytest.mark.parametrize("role", [None, "auditor"])
async def test_others_cannot_watch(make_user, role) -> None:
    user = await sync_to_async(make_user)(role) if role else None
    call = await sync_to_async(CallFactory)()
    connected, code = await (await _open(user, call.pk)).connect()
    assert (connected, code) == (False, 4403)


async def test_unknown_call_is_refused(make_user) -> None:
    supervisor = await sync_to_async(make_user)("supervisor")
    connected, code = await (await _open(supervisor, 999_999)).connect()
    assert (connected, code) == (False, 4403)


async def test_foreign_origin_is_refused(make_user) -> None:
    supervisor = await sync_to_async(make_user)("supervisor")
    call = await sync_to_async(CallFactory)()
    connected, _ = await (await _open(supervisor, call.pk, b"https://evil.example")).connect()
    assert not connected
