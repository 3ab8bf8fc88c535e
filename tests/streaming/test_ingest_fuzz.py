"""A whole ingest socket fed hostile frames between valid ones (hypothesis, through the ASGI
interface): the call keeps recording, is never closed for them, and counts each by kind."""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from collections import Counter

import pytest
from channels.testing import WebsocketCommunicator
from hypothesis import HealthCheck, example, find, given, settings
from hypothesis import strategies as st

from ringadmin.calls.models import Call, CallStatus
from streaming.audio.protocol import Media, ProtocolError, Start, Stop, parse
from streaming.ingest.app import ingest_application
from streaming.profiles.services import streaming_profile_create
from tests.helpers import media_message
from tests.streaming import hostile_frames
from tests.streaming.hostile_frames import FIELD_ABSENT, any_value

QUERY = "callId={call}&sessionId=1&productType=Queue&productId=1234&subaccountId=99990001"
NEXT = "\x01next\x01"  # replaced by the socket's next sequence number when sent
STOP = json.dumps({"event": "Stop"})


def with_sequence(frame: str | bytes, sequence: int) -> str | bytes:
    """``frame`` with its NEXT placeholder (as either JSON encoding wrote it) numbered."""
    if not isinstance(frame, str):
        return frame
    for placeholder in (json.dumps(NEXT), json.dumps(NEXT, ensure_ascii=False)):
        frame = frame.replace(placeholder, str(sequence))
    return frame


def _not_a_sequence(value) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return True
    try:
        int(value.strip() if isinstance(value, str) else value)
    except ValueError:
        return True
    return False


# Media frames that parse take the next number (jumps in numbering are the sequencer's own
# subject); everything else in them, and every other message, is anything at all.
sequence_ids = st.one_of(
    st.just(NEXT), st.just(NEXT), any_value.filter(_not_a_sequence), st.just(FIELD_ABSENT)
)
hostile = st.one_of(
    hostile_frames.media_messages(sequence_ids),
    hostile_frames.start_messages(),
    hostile_frames.connected_messages(),
    hostile_frames.other_messages(),
)
hostile_frame = hostile_frames.frames(hostile).filter(
    lambda frame: (
        frame and not _is_stop(frame.replace(NEXT, "1") if isinstance(frame, str) else frame)
    )
)
stop_metadata = st.dictionaries(
    st.sampled_from(["duration", "end_time", "endTime", "reason", "x"]) | hostile_frames.text,
    any_value,
    max_size=4,
)
stop_frames = st.builds(
    hostile_frames.encode,
    st.builds(lambda metadata: {"event": "Stop", "metadata": metadata}, stop_metadata),
    st.booleans(),
)


def _is_stop(frame) -> bool:
    try:
        return isinstance(parse(frame), Stop)
    except ProtocolError:
        return False


@pytest.fixture
def profile_secret(transactional_db) -> str:
    """One profile for every example of a test (each example streams its own call id)."""
    return streaming_profile_create(
        product_type="QUEUE",
        product_id=1234,
        sub_account_id="99990001",
        main_account_id="99990000",
        rc_account_id="123456789",
        streaming_url="wss://ingest.example.com",
    ).secret


async def _stream(secret: str, frames: list, stops: list[str]) -> tuple[dict, Counter, Counter]:
    """One call: Start, each hostile frame followed by a valid Media frame, then the hostile
    Stops and plain ones until every leg stopped.
    Returns the close message, the error kinds the frames must have counted, and the Media
    frames each leg must have received."""
    call = uuid.uuid4().hex
    ws = WebsocketCommunicator(
        ingest_application,
        f"/?{QUERY.format(call=call)}",
        headers=[(b"authorization", f"Bearer {secret}".encode())],
    )
    assert (await ws.connect())[0]
    start = {"event": "Start", "metadata": {"callId": call, "sessionId": 1}}
    await ws.send_to(text_data=json.dumps(start))
    errors: Counter = Counter()
    received: Counter = Counter()
    sequence = 0
    for frame in frames:
        numbered = with_sequence(frame, sequence + 1)
        if numbered != frame:
            sequence += 1
            frame = numbered
        try:
            message = parse(frame)
        except ProtocolError as error:
            errors[error.kind] += 1
        else:
            if isinstance(message, Start):
                errors["duplicate_start"] += 1
            elif isinstance(message, Media):
                received[message.perspective] += 1
        if isinstance(frame, bytes):
            await ws.send_to(bytes_data=frame)
        else:
            await ws.send_to(text_data=frame)
        sequence += 1
        await ws.send_to(text_data=media_message("Participant", sequence, b"\x01" * 160))
        received["Participant"] += 1
    legs, stopped = len(received), 0
    for frame in [*stops, *[STOP] * legs]:  # the hostile Stops, then plain ones if needed
        if stopped >= legs:
            break
        try:
            parse(frame)
        except ProtocolError as error:
            errors[error.kind] += 1
        else:
            stopped += 1
        await ws.send_to(text_data=frame)
    closing = await ws.receive_output(timeout=10)
    await ws.wait()
    return {**closing, "call": call}, errors, received


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@given(
    frames=st.lists(hostile_frame, min_size=1, max_size=12),
    stops=st.lists(stop_frames, max_size=3),
)
@example(
    frames=[
        '{"event":"Media","perspective":"Participant","sequenceId":"\\u0001next\\u0001",'
        '"media":"AAé="}',
        '{"event":"Media","perspective":"Participant","sequenceId":"\\u0001next\\u0001",'
        '"media":"AAAA","sentAt":-1e308}',
        '{"event":"Dance","x":' + "[" * 1000 + "]" * 1000 + "}",
    ],
    stops=[
        json.dumps({"event": "Stop", "metadata": {"end_time": "0001-01-01T00:00:00-23:59"}}),
        json.dumps({"event": "Stop", "metadata": {"duration": 1e308, "end_time": "9999"}}),
    ],
)
def test_hostile_frames_between_valid_ones_never_end_the_call(
    profile_secret, settings, tmp_path, frames, stops
) -> None:
    """Regression: a Media frame with text outside ASCII, or with a sentAt of -1e308, closed
    the call with 1011; a Stop end_time of year 1 made the final record fail."""
    settings.RECORDINGS_DIR = tmp_path / "recordings"
    settings.INGEST_TICK_SECONDS = 0.02
    settings.INGEST_MAX_MESSAGE_BYTES = 1 << 20  # the size limit has its own test
    settings.CELERY_TASK_ALWAYS_EAGER = True
    closing, errors, received = asyncio.run(_stream(profile_secret, frames, stops))
    assert (closing["code"], closing["reason"]) == (1000, "every perspective stopped")
    call = Call.objects.get(ringcx_call_id=closing["call"])
    assert call.status == CallStatus.COMPLETED
    stats = call.stream_stats
    assert stats["errors"] == dict(errors)
    for leg, count in received.items():
        assert stats["perspectives"][leg]["frames_received"] == count, leg
    assert math.isfinite(call.duration_seconds)
    assert call.duration_seconds >= 0
    assert abs((call.ended_at - call.started_at).total_seconds()) < 86400 * 2
    json.dumps(call.metadata, allow_nan=False)


def test_a_frame_of_every_message_kind_is_generated() -> None:
    """The strategies above really reach each kind (a guard against a filter eating one). Each
    kind is searched for (hypothesis' ``find``), so the guard does not depend on a lucky draw."""

    def kind_of(frame) -> type:
        try:
            return type(parse(with_sequence(frame, 1)))
        except ProtocolError:
            return ProtocolError

    search = settings(max_examples=5000, deadline=None, suppress_health_check=list(HealthCheck))
    for kind in (Media, Start, ProtocolError):
        found = find(
            hostile_frame, lambda frame, kind=kind: kind_of(frame) is kind, settings=search
        )
        assert kind_of(found) is kind
