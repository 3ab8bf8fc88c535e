"""The ingest socket through the ASGI interface (Channels' WebsocketCommunicator)."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from channels.db import database_sync_to_async as sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from ringadmin.calls.groups import call_group_name
from ringadmin.calls.models import Call, CallStatus
from streaming.audio import mulaw
from streaming.audio.wav import wav_read_stereo
from streaming.ingest.app import ingest_application
from streaming.models import IngestHandshake
from streaming.profiles.services import streaming_profile_create, streaming_profile_disable
from tests.helpers import media_message

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

QUERY = (
    "callId={call}&sessionId=2&ani=2223334444&dnis=8005550100&accountId=99990000"
    "&subaccountId=99990001&rcAccountId=123456789&agentId=123&productType=Queue"
    "&productId=1234"
)


@pytest.fixture
def fast_limits(settings):
    settings.INGEST_TICK_SECONDS = 0.02
    settings.INGEST_RECONNECT_GRACE_SECONDS = 0.3
    settings.CELERY_TASK_ALWAYS_EAGER = True
    return settings


@pytest.fixture
def profile(db, fast_limits, tmp_path, settings):
    settings.RECORDINGS_DIR = tmp_path / "recordings"
    return streaming_profile_create(
        product_type="QUEUE",
        product_id=1234,
        sub_account_id="99990001",
        main_account_id="99990000",
        rc_account_id="123456789",
        streaming_url="wss://ingest.example.com",
    )


def start_message(call: str = "c1", **extra) -> str:
    metadata = {
        "callId": call,
        "sessionId": 2,
        "ani": "2223334444",
        "dnis": "8005550100",
        "accountId": "99990000",
        "subaccountId": "99990001",
        "rcAccountId": "123456789",
        "agentId": 123,
        "productType": "Queue",
        "productId": 1234,
        "contentType": "audio/x-mulaw",
        "sampleRateHertz": 8000,
        **extra,
    }
    return json.dumps({"event": "Start", "metadata": metadata})


# RingCX's end time of the call: now (a Stop's end time must fall within the call).
END_TIME = datetime.now(UTC).replace(microsecond=0)
STOP = json.dumps({"event": "Stop", "metadata": {"duration": 1, "end_time": END_TIME.isoformat()}})


def communicator(
    *,
    call: str = "c1",
    query: str | None = None,
    headers=None,
    path: str = "/",
) -> WebsocketCommunicator:
    q = QUERY.format(call=call) if query is None else query
    return WebsocketCommunicator(ingest_application, f"{path}?{q}", headers=headers or [])


def bearer(secret: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {secret}".encode())]


async def stream_call(
    ws: WebsocketCommunicator, frames: dict[str, list[bytes]], call: str = "c1"
) -> dict:
    await ws.send_to(
        text_data=json.dumps({"event": "Connected", "protocol": "AgentSession", "version": "1.0.0"})
    )
    await ws.send_to(text_data=start_message(call))
    for index in range(len(frames["Participant"])):
        for leg in ("Participant", "Conference"):
            await ws.send_to(text_data=media_message(leg, index + 1, frames[leg][index]))
    await ws.send_to(text_data=STOP)
    await ws.send_to(text_data=STOP)
    return await ws.receive_output(timeout=10)


def random_frames(count: int, seed: int = 1) -> dict[str, list[bytes]]:
    rng = random.Random(seed)
    return {
        leg: [rng.randbytes(160) for _ in range(count)] for leg in ("Participant", "Conference")
    }


async def get_call(call: str = "c1") -> Call:
    return await sync_to_async(Call.objects.get)(ringcx_call_id=call)


async def started_call(call: str = "c1") -> Call:
    """The call row, once the socket's Start has been processed (a readiness probe)."""
    deadline = asyncio.get_running_loop().time() + 10
    while asyncio.get_running_loop().time() < deadline:
        found = await sync_to_async(Call.objects.filter(ringcx_call_id=call).first)()
        if found is not None:
            return found
        await asyncio.sleep(0.01)
    raise TimeoutError(f"call {call} was never started")


# --- handshake ---------------------------------------------------------------------------


async def test_a_whole_call_is_recorded_in_stereo_and_finalized(profile) -> None:
    ws = communicator(headers=bearer(profile.secret))
    connected, _ = await ws.connect()
    assert connected
    frames = random_frames(60)
    closing = await stream_call(ws, frames)
    assert closing == {
        "type": "websocket.close",
        "code": 1000,
        "reason": "every perspective stopped",
    }
    call = await get_call()
    assert call.status == CallStatus.COMPLETED
    assert call.duration_seconds == 1
    assert call.ended_at == END_TIME
    assert call.agent_id == "123"
    assert call.ani == "2223334444"
    assert call.product_type == "Queue"
    stats = call.stream_stats
    assert stats["perspectives"]["Participant"]["frames_written"] == 60
    assert stats["perspectives"]["Conference"]["frames_received"] == 60
    recording = wav_read_stereo(call.recording_path)
    expected = np.stack(
        [
            np.concatenate([mulaw.decode(f) for f in frames[leg]])
            for leg in ("Participant", "Conference")
        ],
        axis=1,
    )
    assert np.array_equal(recording, expected)
    # post-call work ran after commit: the recording is fingerprinted
    assert len(call.stream_stats["recording"]["sha256"]) == 64
    handshake = await sync_to_async(IngestHandshake.objects.get)()
    assert handshake.outcome == "accepted"
    assert handshake.secret_source == "header:authorization"
    assert profile.secret not in json.dumps(handshake.query_params)


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        (
            QUERY.format(call="x").replace("productId=1234", "productId=999"),
            "no streaming profile for Queue/999 in sub-account 99990001",
        ),
        (
            QUERY.format(call="x").replace("subaccountId=99990001", "subaccountId=5"),
            "no streaming profile for Queue/1234 in sub-account 5",
        ),
    ],
)
async def test_unknown_profile_is_refused_before_accepting(profile, query, reason) -> None:
    ws = communicator(query=query, headers=bearer(profile.secret))
    connected, code = await ws.connect()
    assert (connected, code) == (False, 4403)
    entry = await sync_to_async(IngestHandshake.objects.get)()
    assert (entry.outcome, entry.status_code, entry.reason) == ("rejected", 403, reason)
    assert not await sync_to_async(Call.objects.exists)()


async def test_disabled_profile_is_refused(profile) -> None:
    await sync_to_async(streaming_profile_disable)(profile=profile)
    connected, code = await communicator(headers=bearer(profile.secret)).connect()
    assert (connected, code) == (False, 4403)
    assert (await sync_to_async(IngestHandshake.objects.get)()).reason.endswith("is disabled")


async def test_bad_secret_is_refused_before_accepting(profile) -> None:
    connected, code = await communicator(headers=bearer("wrong")).connect()
    assert (connected, code) == (False, 4403)
    assert (await sync_to_async(IngestHandshake.objects.get)()).reason == "bad secret"


async def test_missing_secret_can_be_required_at_the_handshake(profile, settings) -> None:
    settings.INGEST_REQUIRE_HANDSHAKE_SECRET = True
    connected, code = await communicator().connect()
    assert (connected, code) == (False, 4403)
    assert (await sync_to_async(IngestHandshake.objects.get)()).reason == "missing secret"


async def test_wrong_path_is_refused(profile) -> None:
    connected, code = await communicator(headers=bearer(profile.secret), path="/ingest").connect()
    assert (connected, code) == (False, 4404)


async def test_overload_is_answered_with_retry_later(profile, settings) -> None:
    settings.INGEST_MAX_CONNECTIONS = 0
    connected, code = await communicator(headers=bearer(profile.secret)).connect()
    assert (connected, code) == (False, 4503)


@pytest.mark.parametrize(
    ("query_extra", "headers", "connected_field", "start_field"),
    [
        ("&secret={s}", [], None, None),
        ("&token={s}", [], None, None),
        ("", [(b"x-ringcx-secret", b"{s}")], None, None),
        ("", [], "{s}", None),
        ("", [], None, "{s}"),
    ],
    ids=["query-secret", "query-token", "header", "connected", "start"],
)
async def test_secret_is_accepted_in_each_location(
    profile,
    query_extra,
    headers,
    connected_field,
    start_field,
) -> None:
    secret = profile.secret
    query = QUERY.format(call="c1") + query_extra.format(s=secret)
    ws = communicator(
        query=query, headers=[(k, v.replace(b"{s}", secret.encode())) for k, v in headers]
    )
    assert (await ws.connect())[0]
    connected = {"event": "Connected", "protocol": "AgentSession", "version": "1.0.0"}
    if connected_field:
        connected["secret"] = secret
    await ws.send_to(text_data=json.dumps(connected))
    extra = {"secret": secret} if start_field else {}
    await ws.send_to(text_data=start_message(**extra))
    await ws.send_to(text_data=media_message("Participant", 1, b"\x01" * 160))
    await ws.send_to(text_data=STOP)
    closing = await ws.receive_output(timeout=10)
    assert closing["code"] == 1000
    call = await get_call()
    assert call.status == CallStatus.COMPLETED
    assert secret not in json.dumps(call.metadata)
    assert secret not in json.dumps(call.handshake)


async def test_secret_missing_everywhere_closes_at_start(profile) -> None:
    ws = communicator()
    assert (await ws.connect())[0]
    await ws.send_to(text_data=start_message())
    closing = await ws.receive_output(timeout=10)
    assert closing == {"type": "websocket.close", "code": 1008, "reason": "missing secret"}
    assert not await sync_to_async(Call.objects.exists)()


async def test_profile_resolved_from_start_when_handshake_has_no_product(profile) -> None:
    ws = communicator(query="callId=c1", headers=bearer(profile.secret))
    assert (await ws.connect())[0]
    await ws.send_to(text_data=start_message())
    await ws.send_to(text_data=media_message("Conference", 1, b"\x02" * 160))
    await ws.send_to(text_data=STOP)
    assert (await ws.receive_output(timeout=10))["code"] == 1000
    assert (await get_call()).status == CallStatus.COMPLETED


async def test_unknown_profile_in_start_closes(profile) -> None:
    ws = communicator(query="callId=c1", headers=bearer(profile.secret))
    assert (await ws.connect())[0]
    await ws.send_to(text_data=start_message(productId=4321))
    closing = await ws.receive_output(timeout=10)
    assert closing["code"] == 1008
    assert "no streaming profile" in closing["reason"]


# --- protocol ----------------------------------------------------------------------------


async def test_unsupported_audio_is_refused_with_1003_and_recorded(profile) -> None:
    ws = communicator(headers=bearer(profile.secret))
    assert (await ws.connect())[0]
    await ws.send_to(text_data=start_message(contentType="audio/L16", sampleRateHertz=16000))
    closing = await ws.receive_output(timeout=10)
    assert closing["code"] == 1003
    call = await get_call()
    assert call.status == CallStatus.REJECTED
    assert "only audio/x-mulaw at 8000 Hz" in call.end_reason


async def test_audio_content_type_spelling_of_the_sample_is_accepted(profile) -> None:
    ws = communicator(headers=bearer(profile.secret))
    assert (await ws.connect())[0]
    start = json.loads(start_message())
    start["metadata"]["audioContentType"] = start["metadata"].pop("contentType")
    await ws.send_to(text_data=json.dumps(start))
    await ws.send_to(text_data=media_message("Participant", 1, b"\x05" * 160))
    await ws.send_to(text_data=STOP)
    assert (await ws.receive_output(timeout=10))["code"] == 1000


async def test_bad_frames_are_counted_and_the_call_goes_on(profile) -> None:
    ws = communicator(headers=bearer(profile.secret))
    assert (await ws.connect())[0]
    await ws.send_to(text_data=media_message("Participant", 1, b"\x00" * 160))  # before Start
    await ws.send_to(text_data=start_message())
    for bad in [
        "{not json",
        "[1, 2]",
        json.dumps({"event": "Dance"}),
        json.dumps(
            {
                "event": "Media",
                "perspective": "Participant",
                "sequenceId": "2",
                "media": "%%%not base64%%%",
            }
        ),
        json.dumps({"event": "Media", "perspective": "Nobody", "sequenceId": "2", "media": "AA=="}),
        json.dumps(
            {
                "event": "Media",
                "perspective": "Participant",
                "sequenceId": {"x": 1},
                "media": "AA==",
            }
        ),
        json.dumps(
            {"event": "Media", "perspective": "Participant", "sequenceId": "2", "media": 42}
        ),
    ]:
        await ws.send_to(text_data=bad)
    frames = [bytes([n]) * 160 for n in range(3)]
    for index, payload in enumerate(frames):
        await ws.send_to(text_data=media_message("Participant", index + 1, payload))
    await ws.send_to(text_data=STOP)
    assert (await ws.receive_output(timeout=10))["code"] == 1000
    call = await get_call()
    assert call.status == CallStatus.COMPLETED
    assert call.stream_stats["errors"] == {
        "media_before_start": 1,
        "malformed_json": 2,
        "unknown_event": 1,
        "bad_base64": 1,
        "bad_perspective": 1,
        "bad_sequence": 1,
        "bad_media": 1,
    }
    left = wav_read_stereo(call.recording_path)[:, 0]
    assert np.array_equal(left, mulaw.decode(b"".join(frames)))


async def test_message_over_the_limit_is_closed_with_1009(profile, settings) -> None:
    settings.INGEST_MAX_MESSAGE_BYTES = 1024
    ws = communicator(headers=bearer(profile.secret))
    assert (await ws.connect())[0]
    await ws.send_to(text_data=start_message())
    await ws.send_to(text_data=media_message("Participant", 1, b"\x01" * 2000))
    closing = await ws.receive_output(timeout=10)
    assert closing["code"] == 1009
    await ws.wait()
    call = await get_call()
    assert call.status == CallStatus.INCOMPLETE
    assert "larger than 1024 bytes" in call.end_reason


async def test_no_start_in_time_is_closed(profile, settings) -> None:
    settings.INGEST_START_TIMEOUT_SECONDS = 0.2
    ws = communicator(headers=bearer(profile.secret))
    assert (await ws.connect())[0]
    closing = await ws.receive_output(timeout=10)
    assert closing == {"type": "websocket.close", "code": 1008, "reason": "no Start within 0.2 s"}


async def test_silence_on_the_wire_finalizes_the_call_incomplete(profile, settings) -> None:
    settings.INGEST_MEDIA_TIMEOUT_SECONDS = 0.3
    ws = communicator(headers=bearer(profile.secret))
    assert (await ws.connect())[0]
    await ws.send_to(text_data=start_message())
    await ws.send_to(text_data=media_message("Participant", 1, b"\x01" * 160))
    closing = await ws.receive_output(timeout=10)
    assert closing == {"type": "websocket.close", "code": 1008, "reason": "no media for 0.3 s"}
    await ws.wait()
    call = await get_call()
    assert call.status == CallStatus.INCOMPLETE
    assert call.end_reason == "no media for 0.3 s"


async def test_sender_far_faster_than_real_time_is_closed(profile, settings) -> None:
    settings.INGEST_SPEED_WINDOW_SECONDS = 0.1
    ws = communicator(headers=bearer(profile.secret))
    assert (await ws.connect())[0]
    await ws.send_to(text_data=start_message())
    for index in range(500):  # 10 s of audio in a moment
        await ws.send_to(text_data=media_message("Participant", index + 1, b"\x01" * 160))
    closing = await ws.receive_output(timeout=10)
    assert closing["code"] == 1008
    assert "faster than real time" in closing["reason"]


async def test_maximum_call_length_ends_the_call(profile, settings) -> None:
    settings.INGEST_MAX_CALL_SECONDS = 0.2
    ws = communicator(headers=bearer(profile.secret))
    assert (await ws.connect())[0]
    await ws.send_to(text_data=start_message())
    sequence = 0
    while True:  # keep streaming until the server ends the call
        sequence += 1
        await ws.send_to(text_data=media_message("Participant", sequence, b"\x01" * 160))
        if not await ws.receive_nothing(timeout=0.02):
            break
    closing = await ws.receive_output(timeout=10)
    assert closing["code"] == 1008
    assert closing["reason"].startswith("maximum call length")


# --- sockets and calls -------------------------------------------------------------------


async def test_two_sockets_one_perspective_each_make_one_recording(profile) -> None:
    frames = random_frames(40, seed=3)
    agent = communicator(headers=bearer(profile.secret))
    caller = communicator(headers=bearer(profile.secret))
    assert (await agent.connect())[0]
    assert (await caller.connect())[0]
    await agent.send_to(text_data=start_message())
    await caller.send_to(text_data=start_message())
    for index in range(40):
        await agent.send_to(
            text_data=media_message("Participant", index + 1, frames["Participant"][index])
        )
        await caller.send_to(
            text_data=media_message("Conference", index + 1, frames["Conference"][index])
        )
    await agent.send_to(text_data=STOP)
    still_open = await agent.receive_nothing(timeout=0.3)
    assert still_open, await agent.receive_output()  # the caller's leg is still live
    await caller.send_to(text_data=STOP)
    assert (await caller.receive_output(timeout=10))["code"] == 1000
    assert (await agent.receive_output(timeout=10))["code"] == 1000
    calls = await sync_to_async(list)(Call.objects.all())
    assert len(calls) == 1
    assert calls[0].stream_stats["sockets"] == 2
    recording = wav_read_stereo(calls[0].recording_path)
    assert np.array_equal(
        recording[:, 0], np.concatenate([mulaw.decode(f) for f in frames["Participant"]])
    )
    assert np.array_equal(
        recording[:, 1], np.concatenate([mulaw.decode(f) for f in frames["Conference"]])
    )


async def test_reconnect_during_the_call_continues_the_same_recording(profile) -> None:
    frames = random_frames(30, seed=4)
    first = communicator(headers=bearer(profile.secret))
    assert (await first.connect())[0]
    await first.send_to(text_data=start_message())
    for index in range(15):
        await first.send_to(
            text_data=media_message("Participant", index + 1, frames["Participant"][index])
        )
    await first.disconnect()  # dropped mid-call, no Stop
    second = communicator(headers=bearer(profile.secret))
    assert (await second.connect())[0]
    await second.send_to(text_data=start_message())
    for index in range(15, 30):
        await second.send_to(
            text_data=media_message("Participant", index + 1, frames["Participant"][index])
        )
    await second.send_to(text_data=STOP)
    assert (await second.receive_output(timeout=10))["code"] == 1000
    call = await get_call()
    assert call.status == CallStatus.COMPLETED
    assert call.stream_stats["sockets"] == 2
    left = wav_read_stereo(call.recording_path)[:, 0]
    assert np.array_equal(left, np.concatenate([mulaw.decode(f) for f in frames["Participant"]]))


async def test_a_slow_reconnect_write_never_lands_after_the_final_record(
    profile, monkeypatch
) -> None:
    """Regression: the reconnect's "live again" write ran in the background and, when slower
    than the call's end, overwrote the final record with status live."""
    import threading
    import time

    from streaming.ingest import app as ingest_app

    real_call_start = ingest_app.ingest_call_start
    resumed = threading.Event()

    def slow_resume(**kwargs):
        if kwargs["new_recording"]:
            return real_call_start(**kwargs)
        time.sleep(0.5)  # a busy database, in the ingest's database thread
        try:
            return real_call_start(**kwargs)
        finally:
            resumed.set()

    monkeypatch.setattr(ingest_app, "ingest_call_start", slow_resume)
    first = communicator(headers=bearer(profile.secret))
    assert (await first.connect())[0]
    await first.send_to(text_data=start_message())
    await first.send_to(text_data=media_message("Participant", 1, b"\x01" * 160))
    await started_call()
    await first.disconnect()
    second = communicator(headers=bearer(profile.secret))
    assert (await second.connect())[0]
    await second.send_to(text_data=start_message())
    await second.send_to(text_data=media_message("Participant", 2, b"\x02" * 160))
    await second.send_to(text_data=STOP)
    assert (await second.receive_output(timeout=10))["code"] == 1000
    assert await asyncio.to_thread(resumed.wait, 10)  # whenever it lands, it landed first
    assert (await get_call()).status == CallStatus.COMPLETED


async def test_dropped_socket_without_reconnect_ends_incomplete(profile) -> None:
    ws = communicator(headers=bearer(profile.secret))
    assert (await ws.connect())[0]
    await ws.send_to(text_data=start_message())
    await ws.send_to(text_data=media_message("Participant", 1, b"\x01" * 160))
    layer = get_channel_layer()
    call = await started_call()
    watcher = await layer.new_channel()
    await layer.group_add(call_group_name(call.pk), watcher)
    await ws.disconnect()
    stopped = None
    while stopped is None:  # progress events may come first; the stop event ends it
        event = (await layer.receive(watcher))["payload"]
        if event["type"] == "call.stopped":
            stopped = event
    assert stopped["status"] == "incomplete"
    assert stopped["reason"] == "stream ended without Stop"
    call = await get_call()
    assert call.status == CallStatus.INCOMPLETE
    assert Path(call.recording_path).stat().st_size == 44 + 160 * 4


async def test_call_events_reach_the_call_group(profile) -> None:
    layer = get_channel_layer()
    ws = communicator(headers=bearer(profile.secret))
    assert (await ws.connect())[0]
    await ws.send_to(text_data=start_message())
    await ws.send_to(text_data=media_message("Participant", 1, b"\x01" * 160))
    call = await started_call()
    watcher = await layer.new_channel()
    await layer.group_add(call_group_name(call.pk), watcher)
    seen = set()
    while "call.progress" not in seen:
        event = (await layer.receive(watcher))["payload"]
        assert event["ringcx_call_id"] == "c1"
        seen.add(event["type"])
    await ws.send_to(text_data=STOP)
    while "call.stopped" not in seen:
        seen.add((await layer.receive(watcher))["payload"]["type"])
    await layer.group_discard(call_group_name(call.pk), watcher)


async def test_a_late_statistics_batch_never_overwrites_a_finished_call(profile) -> None:
    """A statistics batch that lands after the call ended leaves its final statistics alone
    (the update is conditional on the call being live at the moment it is written)."""
    from ringadmin.calls.services import call_stats_update_many

    ws = communicator(headers=bearer(profile.secret))
    assert (await ws.connect())[0]
    await ws.send_to(text_data=start_message())
    await ws.send_to(text_data=media_message("Participant", 1, b"\x01" * 160))
    call = await started_call()
    stale = {"perspectives": {"Participant": {"frames_written": 0}}}
    await ws.send_to(text_data=STOP)
    assert (await ws.receive_output(timeout=10))["code"] == 1000
    await sync_to_async(call_stats_update_many)(stats_by_call={call.pk: stale})
    call = await get_call()
    assert call.stream_stats["perspectives"]["Participant"]["frames_written"] == 1
