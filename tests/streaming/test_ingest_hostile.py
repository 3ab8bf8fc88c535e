"""The ingest socket against a hostile client (through the ASGI interface): bad frames never
end a call, one profile's credentials never reach another profile's calls, ids are never cut,
what reaches the database is storable on PostgreSQL, secrets are never written, and every
count a client controls is bounded."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import numpy as np
import pytest
from channels.db import database_sync_to_async as sync_to_async

from ringadmin.calls.models import Call, CallStatus
from ringadmin.logging import ContextFilter, JsonFormatter, RedactSecretsFilter
from streaming.audio import mulaw
from streaming.audio.wav import wav_read_stereo
from streaming.models import IngestHandshake
from streaming.profiles.services import streaming_profile_create
from tests.helpers import media_message
from tests.streaming.test_ingest_consumer import (
    QUERY,
    STOP,
    bearer,
    communicator,
    fast_limits,  # noqa: F401 - a fixture
    get_call,
    profile,  # noqa: F401 - a fixture
    start_message,
    started_call,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

OTHER_QUERY = "callId={call}&sessionId=2&productType=Queue&productId=777&subaccountId=99990001"


@pytest.fixture
def open_profile(profile):  # noqa: F811 - the fixture imported above
    """Another product's profile, created without a secret: it accepts anyone."""
    return streaming_profile_create(
        product_type="QUEUE",
        product_id=777,
        sub_account_id="99990001",
        main_account_id="99990000",
        rc_account_id="123456789",
        streaming_url="wss://ingest.example.com",
        with_secret=False,
    )


async def closing_of(ws) -> tuple[int, str]:
    message = await ws.receive_output(timeout=10)
    assert message["type"] == "websocket.close", message
    return message["code"], message["reason"]


async def handshake_log() -> list[IngestHandshake]:
    return await sync_to_async(list)(IngestHandshake.objects.order_by("id"))


async def logged_refusal() -> IngestHandshake:
    """The handshake log's entry of a refusal after the handshake (written in the background;
    a readiness probe)."""
    for _ in range(500):
        found = [entry for entry in await handshake_log() if entry.outcome == "closed"]
        if found:
            return found[-1]
        await asyncio.sleep(0.01)
    raise TimeoutError("no refusal was logged")


# --- 1. one bad frame never ends the call ---------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "kind"),
    [
        (
            json.dumps(
                {"event": "Media", "perspective": "Participant", "sequenceId": 2, "media": "AAé="}
            ),
            "bad_base64",
        ),
        ('{"event":"Dance","x":' + "[" * 1000 + "]" * 1000 + "}", "unknown_event"),
        ('{"event":"Media","perspective":' + "[" * 1000 + "]" * 1000 + "}", "bad_perspective"),
        ('{"event":"Start","metadata":{"callId":true}}', "bad_start"),
    ],
    ids=["media-outside-ascii", "deep-event", "deep-perspective", "bool-call-id"],
)
async def test_a_bad_frame_is_counted_and_the_call_goes_on(profile, frame, kind) -> None:  # noqa: F811
    """Regression: media text outside ASCII (binascii's ValueError) and values nested a
    thousand deep (RecursionError in an error message) closed the call with 1011."""
    ws = communicator(headers=bearer(profile.secret))
    assert (await ws.connect())[0]
    await ws.send_to(text_data=start_message())
    await ws.send_to(text_data=media_message("Participant", 1, b"\x01" * 160))
    await ws.send_to(text_data=frame)
    await ws.send_to(text_data=media_message("Participant", 2, b"\x02" * 160))
    await ws.send_to(text_data=STOP)
    assert await closing_of(ws) == (1000, "every perspective stopped")
    call = await get_call()
    assert call.status == CallStatus.COMPLETED
    assert call.stream_stats["errors"] == {kind: 1}
    left = wav_read_stereo(call.recording_path)[:, 0]
    assert np.array_equal(left, mulaw.decode(b"\x01" * 160 + b"\x02" * 160))


async def test_a_sent_at_no_clock_can_have_is_ignored_and_the_frame_recorded(profile) -> None:  # noqa: F811
    """Regression: sentAt -1e308 made an infinite lag: OverflowError, close 1011."""
    ws = communicator(headers=bearer(profile.secret))
    assert (await ws.connect())[0]
    await ws.send_to(text_data=start_message())
    for sequence, sent_at in enumerate([-1e308, 1e308, 0, 1e300], start=1):
        frame = json.loads(media_message("Participant", sequence, bytes([sequence]) * 160))
        await ws.send_to(text_data=json.dumps({**frame, "sentAt": sent_at}))
    await ws.send_to(text_data=STOP)
    assert await closing_of(ws) == (1000, "every perspective stopped")
    call = await get_call()
    assert call.stream_stats["perspectives"]["Participant"]["frames_written"] == 4
    assert "lag_ms" not in call.stream_stats


async def test_start_metadata_is_bounded_before_it_is_stored(profile) -> None:  # noqa: F811
    deep: list = []
    for _ in range(200):
        deep = [deep]
    metadata = {
        "deep": deep,
        "huge": "x" * 20_000,
        "many": {str(n): n for n in range(1500)},
        "auth": "s3cret-auth",
    }
    ws = communicator(headers=bearer(profile.secret))
    assert (await ws.connect())[0]
    await ws.send_to(text_data=start_message(**metadata))
    await ws.send_to(text_data=media_message("Participant", 1, b"\x01" * 160))
    await ws.send_to(text_data=STOP)
    assert await closing_of(ws) == (1000, "every perspective stopped")
    call = await get_call()
    stored = json.dumps(call.metadata)
    assert len(stored) < 40_000
    assert "s3cret-auth" not in stored
    assert call.metadata["deep"] == [[["[nested deeper than 4 levels]"]]]
    assert call.metadata["huge"].endswith("…")
    assert call.stream_stats["errors"] == {"metadata_trimmed": 1}


@pytest.mark.parametrize(
    ("stop", "duration"),
    [
        ({"end_time": "0001-01-01T00:00:00-23:59", "duration": 1}, 1),
        ({"end_time": "9999-12-31T23:59:59-23:59", "duration": -5}, None),
        ({"endTime": 12, "duration": "1"}, None),
        ({"end_time": ["x"], "duration": 1e308}, None),
        ({"end_time": {}, "duration": True}, None),
    ],
)
async def test_stop_values_of_any_type_never_lose_the_final_record(profile, stop, duration) -> None:  # noqa: F811
    """Regression: an end time of year 1 (or 9999) overflowed when converted to UTC, and the
    final record was never written (the call stayed live)."""
    ws = communicator(headers=bearer(profile.secret))
    assert (await ws.connect())[0]
    await ws.send_to(text_data=start_message())
    await ws.send_to(text_data=media_message("Participant", 1, b"\x01" * 160))
    await ws.send_to(text_data=json.dumps({"event": "Stop", "metadata": stop}))
    assert await closing_of(ws) == (1000, "every perspective stopped")
    call = await get_call()
    assert call.status == CallStatus.COMPLETED
    assert abs((call.ended_at - call.started_at).total_seconds()) < 60
    assert call.duration_seconds == (0.02 if duration is None else duration)


# --- 2. one profile's credentials never reach another profile's calls ------------------------


async def test_another_profile_cannot_join_a_live_call(profile, open_profile) -> None:  # noqa: F811
    owner = communicator(headers=bearer(profile.secret))
    assert (await owner.connect())[0]
    await owner.send_to(text_data=start_message())
    await owner.send_to(text_data=media_message("Participant", 1, b"\x01" * 160))
    await started_call()
    intruder = communicator(query=OTHER_QUERY.format(call="c1"))
    assert (await intruder.connect())[0]
    await intruder.send_to(text_data=start_message(productId=777))
    await intruder.send_to(text_data=media_message("Participant", 2, b"\x09" * 160))
    assert await closing_of(intruder) == (1008, "the call belongs to another streaming profile")
    await owner.send_to(text_data=media_message("Participant", 2, b"\x02" * 160))
    await owner.send_to(text_data=STOP)
    assert await closing_of(owner) == (1000, "every perspective stopped")
    call = await get_call()
    assert call.stream_stats["sockets"] == 1
    assert call.stream_stats["perspectives"]["Participant"]["frames_received"] == 2
    left = wav_read_stereo(call.recording_path)[:, 0]
    assert np.array_equal(left, mulaw.decode(b"\x01" * 160 + b"\x02" * 160))
    entry = await logged_refusal()
    assert entry.reason == "refused at Start: the call belongs to another streaming profile"
    assert entry.profile_id == open_profile.pk


async def test_a_completed_call_is_never_reopened(profile, open_profile) -> None:  # noqa: F811
    ws = communicator(headers=bearer(profile.secret))
    assert (await ws.connect())[0]
    await ws.send_to(text_data=start_message())
    await ws.send_to(text_data=media_message("Participant", 1, b"\x01" * 160))
    await ws.send_to(text_data=STOP)
    assert (await closing_of(ws))[0] == 1000
    before = await get_call()
    for query, headers in (
        (OTHER_QUERY.format(call="c1"), []),  # another profile
        (None, bearer(profile.secret)),  # and its own
    ):
        again = communicator(query=query, headers=headers)
        assert (await again.connect())[0]
        await again.send_to(text_data=start_message(ani="5550000", newKey="overwritten"))
        await again.send_to(text_data=media_message("Participant", 1, b"\x09" * 160))
        code, reason = await closing_of(again)
        assert code == 1008
        assert "never reopened" in reason or "another streaming profile" in reason, reason
    after = await get_call()
    assert (after.status, after.recording_path, after.metadata, after.ani) == (
        CallStatus.COMPLETED,
        before.recording_path,
        before.metadata,
        before.ani,
    )
    assert after.ended_at == before.ended_at
    recordings = sorted(Path(before.recording_path).parent.iterdir())
    assert recordings == [Path(before.recording_path)]  # the refused streams left no file


async def test_a_call_of_another_profile_not_live_here_is_refused_by_its_row(
    profile,  # noqa: F811
    open_profile,
) -> None:
    """The row decides when no socket of the call is in this process (another process, or
    after a restart): the refused stream's new file is removed."""
    ws = communicator(headers=bearer(profile.secret))
    assert (await ws.connect())[0]
    await ws.send_to(text_data=start_message())
    await ws.send_to(text_data=media_message("Participant", 1, b"\x01" * 160))
    await started_call()
    await ws.disconnect()  # dropped: incomplete after the grace, not ended for good
    while (await get_call()).status == CallStatus.LIVE:
        await ws.receive_nothing(timeout=0.05)
    before = await get_call()
    assert before.status == CallStatus.INCOMPLETE
    intruder = communicator(query=OTHER_QUERY.format(call="c1"))
    assert (await intruder.connect())[0]
    await intruder.send_to(text_data=start_message(productId=777))
    await intruder.send_to(text_data=media_message("Participant", 2, b"\x09" * 160))
    assert await closing_of(intruder) == (1008, "the call belongs to another streaming profile")
    after = await get_call()
    assert (after.status, after.recording_path, after.metadata) == (
        CallStatus.INCOMPLETE,
        before.recording_path,
        before.metadata,
    )
    await intruder.wait()
    recordings = sorted(Path(before.recording_path).parent.iterdir())
    assert recordings == [Path(before.recording_path)]


async def test_another_profiles_socket_naming_the_call_cannot_hold_it_open(
    profile,  # noqa: F811
    open_profile,
    settings,
) -> None:
    """A socket whose handshake names the call waits to join it (a reconnect on its way), so
    the call does not end at its Stop; another profile's socket must not count as one.
    Regression: the owner's Stop then never completed the call (it ended incomplete)."""
    settings.INGEST_START_TIMEOUT_SECONDS = 60
    owner = communicator(headers=bearer(profile.secret))
    assert (await owner.connect())[0]
    await owner.send_to(text_data=start_message())
    await owner.send_to(text_data=media_message("Participant", 1, b"\x01" * 160))
    await started_call()
    lurker = communicator(query=OTHER_QUERY.format(call="c1"))  # sends nothing more
    assert (await lurker.connect())[0]
    await owner.send_to(text_data=STOP)
    assert await closing_of(owner) == (1000, "every perspective stopped")
    assert (await get_call()).status == CallStatus.COMPLETED


async def test_a_stream_of_another_profile_cannot_keep_the_calls_owner_out(
    profile,  # noqa: F811
    open_profile,
    monkeypatch,
) -> None:
    """While the row has not yet refused another profile's stream that opened the call here,
    the owner's reconnect waits for that answer instead of being refused."""
    import threading

    from streaming.ingest import app as ingest_app

    real_call_start = ingest_app.ingest_call_start
    release = threading.Event()

    def held_for_the_intruder(**kwargs):
        if kwargs["profile_id"] == open_profile.pk:
            release.wait(10)  # its row answers late (a busy database)
        return real_call_start(**kwargs)

    ws = communicator(headers=bearer(profile.secret))
    assert (await ws.connect())[0]
    await ws.send_to(text_data=start_message())
    await ws.send_to(text_data=media_message("Participant", 1, b"\x01" * 160))
    await started_call()
    await ws.disconnect()
    while (await get_call()).status == CallStatus.LIVE:
        await ws.receive_nothing(timeout=0.05)
    monkeypatch.setattr(ingest_app, "ingest_call_start", held_for_the_intruder)
    intruder = communicator(query=OTHER_QUERY.format(call="c1"))
    assert (await intruder.connect())[0]
    await intruder.send_to(text_data=start_message(productId=777))
    owner = communicator(headers=bearer(profile.secret))
    assert (await owner.connect())[0]
    await owner.send_to(text_data=start_message())
    assert await owner.receive_nothing(timeout=0.3)  # not refused: waiting for the answer
    release.set()
    assert await closing_of(intruder) == (1008, "the call belongs to another streaming profile")
    await owner.send_to(text_data=media_message("Participant", 2, b"\x02" * 160))
    await owner.send_to(text_data=STOP)
    assert await closing_of(owner) == (1000, "every perspective stopped")
    call = await get_call()
    assert call.status == CallStatus.COMPLETED
    assert call.stream_stats["sockets"] == 2


async def test_the_product_recorded_is_the_one_that_authenticated(profile, open_profile) -> None:  # noqa: F811
    ws = communicator(headers=bearer(profile.secret))
    assert (await ws.connect())[0]
    await ws.send_to(
        text_data=start_message(productId=777, productType="Campaign", subaccountId="1")
    )
    await ws.send_to(text_data=media_message("Participant", 1, b"\x01" * 160))
    await ws.send_to(text_data=STOP)
    assert (await closing_of(ws))[0] == 1000
    call = await get_call()
    assert (call.product_type, call.product_id, call.subaccount_id) == ("Queue", "1234", "99990001")
    assert call.metadata["productId"] == 777  # what the stream said, kept as evidence


async def test_unsupported_audio_never_overwrites_an_existing_call(profile, open_profile) -> None:  # noqa: F811
    ws = communicator(headers=bearer(profile.secret))
    assert (await ws.connect())[0]
    await ws.send_to(text_data=start_message())
    await ws.send_to(text_data=media_message("Participant", 1, b"\x01" * 160))
    await ws.send_to(text_data=STOP)
    assert (await closing_of(ws))[0] == 1000
    intruder = communicator(query=OTHER_QUERY.format(call="c1"))
    assert (await intruder.connect())[0]
    await intruder.send_to(text_data=start_message(productId=777, sampleRateHertz=16000))
    assert (await closing_of(intruder))[0] == 1003
    call = await get_call()
    assert call.status == CallStatus.COMPLETED
    assert call.end_reason == "every perspective stopped"


# --- 3. ids are never cut ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        ("callId", "callId longer than 64 characters"),
        ("sessionId", "sessionId longer than 64 characters"),
    ],
)
async def test_ids_that_do_not_fit_are_refused_not_cut(profile, field, reason) -> None:  # noqa: F811
    """Regression: ids were cut to 64 characters, so two calls differing after the 64th became
    one row and the first recording was moved aside."""
    prefix = "9" * 64
    for suffix in ("A", "B"):
        ws = communicator(query="", headers=bearer(profile.secret))
        assert (await ws.connect())[0]
        await ws.send_to(text_data=start_message(**{field: prefix + suffix}))
        await ws.send_to(text_data=media_message("Participant", 1, b"\x01" * 160))
        assert await closing_of(ws) == (1008, reason)
    assert not await sync_to_async(Call.objects.exists)()


async def test_an_ani_that_does_not_fit_is_kept_whole_in_the_metadata(profile) -> None:  # noqa: F811
    ani = "1" * 65
    ws = communicator(headers=bearer(profile.secret))
    assert (await ws.connect())[0]
    await ws.send_to(text_data=start_message(ani=ani, agentId="a" * 80))
    await ws.send_to(text_data=media_message("Participant", 1, b"\x01" * 160))
    await ws.send_to(text_data=STOP)
    assert (await closing_of(ws))[0] == 1000
    call = await get_call()
    assert (call.ani, call.agent_id) == ("", "")
    assert call.metadata["ani"] == ani


# --- 5. secrets are masked by what the ingest accepts -----------------------------------------


@pytest.mark.parametrize("name", ["auth", "key", "a_u_t_h", "API-KEY", "authorization"])
async def test_a_secret_under_any_accepted_name_is_never_written(
    profile,  # noqa: F811
    name,
    caplog,
) -> None:
    """Regression: the ingest accepted the secret under ``auth`` and ``key`` but masked
    neither: it was stored in the handshake log and the call's row."""
    secret = profile.secret
    ws = communicator(query=QUERY.format(call="c1") + f"&{name}={secret}")
    assert (await ws.connect())[0]
    await ws.send_to(text_data=start_message())
    await ws.send_to(text_data=media_message("Participant", 1, b"\x01" * 160))
    await ws.send_to(text_data=STOP)
    assert (await closing_of(ws))[0] == 1000
    call = await get_call()
    (entry,) = await handshake_log()
    assert entry.secret_source == f"query:{name}"
    assert secret not in json.dumps(entry.query_params)
    assert secret not in json.dumps(call.handshake)
    assert secret not in json.dumps(call.metadata)
    # refused (a wrong secret under the same name): not in the log line either
    caplog.set_level(logging.WARNING)
    wrong = communicator(query=QUERY.format(call="c2") + f"&{name}=wrong-{secret}")
    assert (await wrong.connect()) == (False, 4403)
    refused = (await handshake_log())[-1]
    assert secret not in json.dumps(refused.query_params)
    lines = []
    for record in caplog.records:
        ContextFilter().filter(record)
        RedactSecretsFilter().filter(record)
        lines.append(JsonFormatter().format(record))
    assert any("ingest handshake refused" in line for line in lines)
    assert not [line for line in lines if secret in line]


# --- 7. durations after a reconnect -----------------------------------------------------------


async def test_a_call_resumed_after_its_grace_counts_from_its_first_socket(profile) -> None:  # noqa: F811
    """Regression: after a reconnect too late for the grace period, the call's duration and
    statistics covered only the new socket's part."""
    first = communicator(headers=bearer(profile.secret))
    assert (await first.connect())[0]
    await first.send_to(text_data=start_message())
    for sequence in range(1, 101):
        await first.send_to(text_data=media_message("Participant", sequence, b"\x01" * 160))
    await started_call()
    await first.disconnect()
    while (await get_call()).status == CallStatus.LIVE:
        await first.receive_nothing(timeout=0.05)
    second = communicator(headers=bearer(profile.secret))
    assert (await second.connect())[0]
    await second.send_to(text_data=start_message())
    for sequence in range(101, 151):
        await second.send_to(text_data=media_message("Participant", sequence, b"\x02" * 160))
    await second.send_to(text_data=json.dumps({"event": "Stop"}))
    assert (await closing_of(second))[0] == 1000
    call = await get_call()
    assert call.status == CallStatus.COMPLETED
    assert call.duration_seconds == pytest.approx(3.0)
    assert call.stream_stats["sockets"] == 2
    assert call.stream_stats["perspectives"]["Participant"]["frames_received"] == 150
    assert call.stream_stats["recording"]["seconds"] == pytest.approx(3.0)
    assert call.stream_stats["recording"]["earlier_seconds"] == pytest.approx(2.0)
    assert len(call.metadata["earlier_recordings"]) == 1


# --- 8. every count a client controls is bounded ----------------------------------------------


async def test_sockets_per_call_are_limited(profile, settings) -> None:  # noqa: F811
    settings.INGEST_MAX_SOCKETS_PER_CALL = 2
    sockets = []
    for _ in range(2):
        ws = communicator(headers=bearer(profile.secret))
        assert (await ws.connect())[0]
        await ws.send_to(text_data=start_message())
        sockets.append(ws)
    await started_call()
    extra = communicator(headers=bearer(profile.secret))
    assert (await extra.connect())[0]
    await extra.send_to(text_data=start_message())
    assert await closing_of(extra) == (1008, "the call already has 2 sockets (limit 2)")
    for ws in sockets:
        await ws.send_to(text_data=media_message("Participant", 1, b"\x01" * 160))
        await ws.send_to(text_data=STOP)
    assert (await closing_of(sockets[1]))[0] == 1000


async def test_live_calls_per_profile_are_limited(profile, settings) -> None:  # noqa: F811
    settings.INGEST_MAX_CALLS_PER_PROFILE = 1
    first = communicator(call="c1", headers=bearer(profile.secret))
    assert (await first.connect())[0]
    await first.send_to(text_data=start_message("c1"))
    await first.send_to(text_data=media_message("Participant", 1, b"\x01" * 160))
    await started_call("c1")
    second = communicator(call="c2", headers=bearer(profile.secret))
    assert (await second.connect())[0]
    await second.send_to(text_data=start_message("c2"))
    code, reason = await closing_of(second)
    assert code == 1013  # try again later
    assert reason.endswith("live calls here (the limit)")
    await first.send_to(text_data=STOP)
    assert (await closing_of(first))[0] == 1000


async def test_an_idle_second_socket_is_closed_while_the_call_goes_on(profile, settings) -> None:  # noqa: F811
    settings.INGEST_MEDIA_TIMEOUT_SECONDS = 0.5
    busy = communicator(headers=bearer(profile.secret))
    idle = communicator(headers=bearer(profile.secret))
    for ws in (busy, idle):
        assert (await ws.connect())[0]
        await ws.send_to(text_data=start_message())
    sequence = 0
    while await idle.receive_nothing(timeout=0.02):  # the busy socket streams meanwhile
        sequence += 1
        await busy.send_to(text_data=media_message("Participant", sequence, b"\x01" * 160))
    assert await closing_of(idle) == (1008, "no media on this socket for 0.5 s")
    await busy.send_to(text_data=STOP)
    assert await closing_of(busy) == (1000, "every perspective stopped")
    assert (await get_call()).status == CallStatus.COMPLETED


async def test_a_flood_of_malformed_frames_is_closed(profile, settings) -> None:  # noqa: F811
    settings.INGEST_SPEED_WINDOW_SECONDS = 0.1
    settings.INGEST_MAX_SPEED_RATIO = 1  # 100 messages without audio a second at most
    ws = communicator(headers=bearer(profile.secret))
    assert (await ws.connect())[0]
    await ws.send_to(text_data=start_message())
    while await ws.receive_nothing(timeout=0.001):
        for _ in range(50):
            await ws.send_to(text_data="{not json")
    code, reason = await closing_of(ws)
    assert code == 1008
    assert reason.endswith("messages a second without audio")


@pytest.mark.parametrize(
    ("query", "status", "reason"),
    [
        ("a=" + "x" * 5000, 414, "query string longer than 4096 bytes"),
        ("&".join(f"p{n}=1" for n in range(65)), 400, "more than 64 query parameters"),
        ("callId=1&callId=2", 400, "query parameter 'callId' repeats 'callId'"),
        ("callId=1&call_id=2", 400, "query parameter 'call_id' repeats 'callId'"),
        ("secret=a&token=b", 400, "query parameter 'token' repeats 'secret'"),
    ],
)
async def test_an_unreasonable_query_is_refused_at_the_handshake(
    profile,  # noqa: F811
    query,
    status,
    reason,
) -> None:
    ws = communicator(query=query, headers=bearer(profile.secret))
    assert (await ws.connect()) == (False, 4000 + status)
    (entry,) = await handshake_log()
    assert (entry.outcome, entry.status_code, entry.reason) == ("rejected", status, reason)
    assert len(json.dumps(entry.query_params)) < 20_000


# --- 4. what reaches the database is storable on PostgreSQL ------------------------------------


@pytest.mark.needs_postgres
async def test_a_nul_in_the_call_id_is_refused_with_a_close_frame(profile) -> None:  # noqa: F811
    """Regression: PostgreSQL refused the call row; the recording went on with no record and
    the client got no close frame."""
    ws = communicator(query="callId=c%001", headers=bearer(profile.secret))
    assert (await ws.connect())[0]
    await ws.send_to(text_data=start_message("c\x001"))
    await ws.send_to(text_data=media_message("Participant", 1, b"\x01" * 160))
    assert await closing_of(ws) == (1008, "callId contains control characters")
    entry = await logged_refusal()
    assert entry.ringcx_call_id == "c\ufffd1"
    assert not await sync_to_async(Call.objects.exists)()


@pytest.mark.needs_postgres
async def test_nul_anywhere_else_is_cleaned_and_the_call_recorded(profile) -> None:  # noqa: F811
    query = QUERY.format(call="c1") + "&note=a%00b&we%00ird=1"
    headers = [*bearer(profile.secret), (b"x-odd", b"1")]
    ws = communicator(query=query, headers=headers)
    assert (await ws.connect())[0]
    await ws.send_to(
        text_data=start_message(ani="222\x00333", **{"ke\x00y": "v\x00", "list": ["\x00"]})
    )
    await ws.send_to(text_data=media_message("Participant", 1, b"\x01" * 160))
    await ws.send_to(
        text_data=json.dumps({"event": "Stop", "metadata": {"why\x00": "\x00", "end_time": "\x00"}})
    )
    assert await closing_of(ws) == (1000, "every perspective stopped")
    call = await get_call()
    assert call.status == CallStatus.COMPLETED
    assert call.ani == ""  # not an ANI any more: kept, cleaned, in the metadata
    assert call.metadata["ani"] == "222\ufffd333"
    assert call.metadata["ke\ufffdy"] == "v\ufffd"
    assert call.metadata["stop"]["why\ufffd"] == "\ufffd"
    assert call.handshake["params"]["note"] == "a\ufffdb"
    (entry,) = await handshake_log()
    assert entry.query_params["we\ufffdird"] == "1"


@pytest.mark.needs_postgres
def test_lone_surrogates_and_nul_are_stored_alike_on_postgresql(profile) -> None:  # noqa: F811
    """Lone surrogates cannot arrive in a frame (JSON parsing refuses them), but the services
    that write what the ingest received must store any text."""
    from streaming.ingest.calls import ingest_call_start

    result = ingest_call_start(
        ringcx_call_id="c1",
        session_id="",
        profile_id=profile.pk,
        metadata={"\ud800": "\udfff\x00", "agentId": "\ud800", "n": float("nan")},
        handshake={"params": {"x\ud800": "\x00"}, "header_names": ["a\x00"]},
        owner="test",
        recording_path="/nonexistent.wav",
    )
    call = Call.objects.get(pk=result.call.pk)
    assert call.metadata == {"\ufffd": "\ufffd\ufffd", "agentId": "\ufffd", "n": None}
    assert call.agent_id == ""


@pytest.mark.needs_postgres
def test_the_handshake_log_stores_any_text_on_postgresql(db) -> None:
    from streaming.ingest.handshake_log import ingest_handshake_log

    entry = ingest_handshake_log(
        client="\ud800:1",
        path="/\x00",
        query_params={"\ud800": "\x00"},
        header_names=["\x00"],
        secret_source="query:\x00" + "s" * 100,
        outcome="rejected",
        status_code=400,
        reason="\ud800" * 500,
        ringcx_call_id="\x00" * 100,
    )
    entry.refresh_from_db()
    assert entry.query_params == {"\ufffd": "\ufffd"}
    assert len(entry.reason) == 300
    assert len(entry.secret_source) == 40
    assert entry.ringcx_call_id.endswith("…")


def test_a_call_is_resumed_in_a_new_recording_a_bounded_number_of_times(profile) -> None:  # noqa: F811
    """Each comeback after the grace period opens a new file and lists the previous one: a
    client reconnecting forever would fill the disk and the row."""
    from ringadmin.calls.services import MAX_RECORDINGS_PER_CALL, CallRefused
    from streaming.ingest.calls import ingest_call_start

    def start(path: str):
        return ingest_call_start(
            ringcx_call_id="c1",
            session_id="2",
            profile_id=profile.pk,
            metadata={},
            handshake={},
            owner="test",
            recording_path=path,
            new_recording=True,
        )

    start("/r/0.wav")
    for n in range(1, MAX_RECORDINGS_PER_CALL):
        Call.objects.filter(ringcx_call_id="c1").update(status=CallStatus.INCOMPLETE)
        start(f"/r/{n}.wav")
    Call.objects.filter(ringcx_call_id="c1").update(status=CallStatus.INCOMPLETE)
    with pytest.raises(CallRefused, match="recordings"):
        start("/r/last.wav")
    call = Call.objects.get(ringcx_call_id="c1")
    assert len(call.metadata["earlier_recordings"]) == MAX_RECORDINGS_PER_CALL - 1
    assert call.recording_path == f"/r/{MAX_RECORDINGS_PER_CALL - 1}.wav"
