"""The live calls socket at /ws/calls/live/, through the real ASGI application and channel
layer: who may connect, the first list, the ingest's digest filtered by the selector, the
start and stop notices, stale digests dropped and revoked access closing the socket."""

from __future__ import annotations

import time

import pytest
from channels.db import database_sync_to_async as sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from monitoring import live as live_selectors
from monitoring.consumers import LiveCallsConsumer
from ringadmin.asgi import application
from ringadmin.calls.groups import LIVE_CALLS_GROUP
from ringadmin.calls.models import Call, CallStatus
from tests.factories import CallFactory
from tests.monitoring.test_call_events_socket import _session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def _open(user, origin: bytes = b"http://testserver") -> WebsocketCommunicator:
    headers = [(b"origin", origin), (b"host", b"testserver")]
    if user is not None:
        headers.append((b"cookie", await sync_to_async(_session_cookie)(user)))
    return WebsocketCommunicator(application, "/ws/calls/live/", headers=headers)


async def _connected(user) -> tuple[WebsocketCommunicator, dict]:
    ws = await _open(user)
    connected, _ = await ws.connect()
    assert connected
    return ws, await ws.receive_json_from(timeout=5)


def _entry(call_id: int, seconds: float = 1.0, line: dict | None = None) -> dict:
    return {
        "id": call_id,
        "seconds": seconds,
        "levels": {"agent": -20.0, "caller": -30.0},
        "line": line,
    }


async def _digest(*entries: dict, at: float | None = None) -> None:
    await get_channel_layer().group_send(
        LIVE_CALLS_GROUP,
        {"type": "calls.digest", "at": time.time() if at is None else at, "calls": list(entries)},
    )


async def _notice(notice: dict) -> None:
    await get_channel_layer().group_send(
        LIVE_CALLS_GROUP, {"type": "calls.notice", "notice": notice}
    )


def _scope_selector(monkeypatch, hidden: set[int]) -> None:
    """A selector that hides some calls from this user (as a scoped role would)."""
    real = live_selectors.calls_visible_to

    def scoped(*, user):
        return real(user=user).exclude(pk__in=hidden)

    monkeypatch.setattr(live_selectors, "calls_visible_to", scoped)


@pytest.mark.parametrize("role", [None, "auditor"])
async def test_anonymous_and_users_without_the_permission_are_refused(make_user, role) -> None:
    user = await sync_to_async(make_user)(role) if role else None
    connected, code = await (await _open(user)).connect()
    assert (connected, code) == (False, 4403)


async def test_a_foreign_origin_is_refused(make_user) -> None:
    supervisor = await sync_to_async(make_user)("supervisor")
    connected, _ = await (await _open(supervisor, b"https://evil.example")).connect()
    assert not connected


async def test_a_supervisor_first_receives_the_live_calls(make_user) -> None:
    supervisor = await sync_to_async(make_user)("supervisor")
    live = await sync_to_async(CallFactory)(status=CallStatus.LIVE, agent_id="7", ani="555")
    await sync_to_async(CallFactory)(status=CallStatus.COMPLETED)
    ws, first = await _connected(supervisor)
    assert first["type"] == "calls.list"
    assert first["server_time"]
    assert [call["id"] for call in first["calls"]] == [live.pk]
    shown = first["calls"][0]
    assert (shown["agent"], shown["caller"], shown["product"]) == ("7", "555", "Queue 1234")
    assert shown["live_url"] == f"/calls/{live.pk}/live/"
    await ws.disconnect()


async def test_a_digest_shows_only_the_calls_the_user_may_see(make_user, monkeypatch) -> None:
    supervisor = await sync_to_async(make_user)("supervisor")
    visible = await sync_to_async(CallFactory)(status=CallStatus.LIVE)
    invisible = await sync_to_async(CallFactory)(status=CallStatus.LIVE)
    _scope_selector(monkeypatch, {invisible.pk})
    ws, first = await _connected(supervisor)
    assert [call["id"] for call in first["calls"]] == [visible.pk]
    line = {"speaker": "caller", "text": "hello", "is_final": True}
    await _digest(_entry(visible.pk, 2.5, line), _entry(invisible.pk), _entry(999_999))
    progress = await ws.receive_json_from(timeout=5)
    assert progress == {"type": "calls.progress", "calls": [_entry(visible.pk, 2.5, line)]}
    await ws.disconnect()


async def test_a_call_first_seen_in_a_digest_is_checked_once_and_announced(
    make_user, monkeypatch
) -> None:
    supervisor = await sync_to_async(make_user)("supervisor")
    ws, first = await _connected(supervisor)
    assert first["calls"] == []
    later = await sync_to_async(CallFactory)(status=CallStatus.LIVE)
    checked: list[set[int]] = []
    real = live_selectors.live_calls_for

    def counting(*, user, call_ids=None):
        checked.append(set(call_ids or ()))
        return real(user=user, call_ids=call_ids)

    monkeypatch.setattr("monitoring.consumers.live_calls_for", counting)
    await _digest(_entry(later.pk, 1.0))
    started = await ws.receive_json_from(timeout=5)
    assert started["type"] == "call.started"
    assert started["call"]["id"] == later.pk
    assert (await ws.receive_json_from(timeout=5))["calls"][0]["id"] == later.pk
    await _digest(_entry(later.pk, 2.0))
    assert (await ws.receive_json_from(timeout=5))["calls"][0]["seconds"] == 2.0
    assert checked == [{later.pk}]  # the second digest asked the database nothing
    await ws.disconnect()


async def test_started_and_stopped_notices(make_user, monkeypatch) -> None:
    supervisor = await sync_to_async(make_user)("supervisor")
    ws, _ = await _connected(supervisor)
    invisible = await sync_to_async(CallFactory)(status=CallStatus.LIVE)
    call = await sync_to_async(CallFactory)(status=CallStatus.LIVE, agent_id="42")
    _scope_selector(monkeypatch, {invisible.pk})
    await _notice({"type": "call.started", "id": invisible.pk})  # nothing for this user
    await _notice({"type": "call.started", "id": call.pk})
    started = await ws.receive_json_from(timeout=5)
    assert started["type"] == "call.started"
    assert (started["call"]["id"], started["call"]["agent"]) == (call.pk, "42")
    await _notice({"type": "call.stopped", "id": invisible.pk, "status": "completed"})
    await _notice({"type": "call.stopped", "id": call.pk, "status": "completed"})
    stopped = await ws.receive_json_from(timeout=5)
    assert stopped == {"type": "call.stopped", "id": call.pk, "status": "completed"}
    await ws.disconnect()


async def test_a_stale_digest_is_dropped_not_delivered(make_user) -> None:
    supervisor = await sync_to_async(make_user)("supervisor")
    call = await sync_to_async(CallFactory)(status=CallStatus.LIVE)
    ws, _ = await _connected(supervisor)
    await _digest(_entry(call.pk, 1.0), at=time.time() - LiveCallsConsumer.STALE_SECONDS - 5)
    await _digest(_entry(call.pk, 9.0))
    progress = await ws.receive_json_from(timeout=5)
    assert progress["calls"][0]["seconds"] == 9.0  # the stale one never reached the browser
    await ws.disconnect()


async def test_revoked_access_closes_the_socket(make_user, monkeypatch) -> None:
    supervisor = await sync_to_async(make_user)("supervisor")
    call = await sync_to_async(CallFactory)(status=CallStatus.LIVE)
    ws, _ = await _connected(supervisor)
    monkeypatch.setattr(LiveCallsConsumer, "RECHECK_SECONDS", 0.0)
    await sync_to_async(supervisor.groups.clear)()
    await _digest(_entry(call.pk))
    closed = await ws.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 4403}


async def test_a_call_no_longer_visible_is_withdrawn(make_user, monkeypatch) -> None:
    supervisor = await sync_to_async(make_user)("supervisor")
    kept = await sync_to_async(CallFactory)(status=CallStatus.LIVE)
    withdrawn = await sync_to_async(CallFactory)(status=CallStatus.LIVE)
    ws, first = await _connected(supervisor)
    assert {c["id"] for c in first["calls"]} == {kept.pk, withdrawn.pk}
    monkeypatch.setattr(LiveCallsConsumer, "RECHECK_SECONDS", 0.0)
    _scope_selector(monkeypatch, {withdrawn.pk})
    await _digest(_entry(kept.pk), _entry(withdrawn.pk))
    assert await ws.receive_json_from(timeout=5) == {"type": "call.hidden", "id": withdrawn.pk}
    progress = await ws.receive_json_from(timeout=5)
    assert [c["id"] for c in progress["calls"]] == [kept.pk]
    await ws.disconnect()


async def test_the_first_list_is_the_selectors_live_calls(make_user, monkeypatch) -> None:
    supervisor = await sync_to_async(make_user)("supervisor")
    hidden = await sync_to_async(CallFactory)(status=CallStatus.LIVE)
    shown = await sync_to_async(CallFactory)(status=CallStatus.LIVE)
    _scope_selector(monkeypatch, {hidden.pk})
    ws, first = await _connected(supervisor)
    assert [c["id"] for c in first["calls"]] == [shown.pk]
    assert await sync_to_async(Call.objects.filter(status=CallStatus.LIVE).count)() == 2
    await ws.disconnect()
