"""RingCX message parsing under hostile input: a message or ProtocolError, never anything else;
and the lag histogram, which takes the sender's clock, stays finite and small."""

from __future__ import annotations

import base64
import json
import math

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from streaming.audio.lag import MAX_LAG_MS, LagHistogram
from streaming.audio.protocol import (
    PERSPECTIVES,
    SECRET_FIELDS,
    Connected,
    Media,
    ProtocolError,
    Start,
    Stop,
    parse,
)
from tests.streaming import hostile_frames


def assert_well_formed(message) -> None:
    """What the ingest relies on, whatever arrived."""
    if isinstance(message, Media):
        assert message.perspective in PERSPECTIVES
        assert type(message.sequence) is int
        assert message.sequence >= 0
        assert isinstance(message.payload, bytes)
        assert message.payload
        assert message.sent_at is None or (
            type(message.sent_at) is float and math.isfinite(message.sent_at)
        )
    elif isinstance(message, Start):
        assert isinstance(message.metadata, dict)
        assert not set(SECRET_FIELDS) & set(message.metadata)
        assert isinstance(message.call_id, str)
        assert message.call_id
        assert isinstance(message.session_id, str)
        assert isinstance(message.content_type, str)
        assert type(message.sample_rate) is int
        assert message.secret is None or isinstance(message.secret, str)
    elif isinstance(message, Stop):
        assert isinstance(message.metadata, dict)
        assert message.perspective is None or message.perspective in PERSPECTIVES
    else:
        assert isinstance(message, Connected)
        assert isinstance(message.protocol, str)
        assert isinstance(message.version, str)


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(frame=hostile_frames.frames(hostile_frames.any_message))
@example(frame='{"event":"Media","perspective":"Participant","sequenceId":1,"media":"AAé="}')
@example(
    frame='{"event":"Media","perspective":"Participant","sequenceId":1,"media":"AA==",'
    '"sentAt":-1e308}'
)
@example(frame='{"event":"Dance","x":' + "[" * 1000 + "]" * 1000 + "}")
@example(frame='{"event":"Media","perspective":' + "[" * 1000 + "]" * 1000 + "}")
@example(frame='{"event":"Start","metadata":{"callId":true}}')
@example(frame='{"event":"Start","metadata":{"callId":"c","sampleRateHertz":true}}')
@example(frame='{"event":"Start","metadata":{"callId":"c","sessionId":{"a":1}}}')
@example(frame='{"event":"Start","metadata":{"callId":"c","contentType":["a"]}}')
@example(
    frame='{"event":"Start","metadata":{"callId":"c","sampleRateHertz":'
    + "[" * 1000
    + "]" * 1000
    + "}}"
)
def test_parse_returns_a_message_or_raises_protocol_error(frame) -> None:
    try:
        message = parse(frame)
    except ProtocolError as error:
        refused = error
    else:
        assert_well_formed(message)
        return
    assert isinstance(refused.kind, str)
    assert refused.kind
    assert len(str(refused)) < 200  # a log line's worth, never the frame


DEEPEST = "[" * 1023 + "]" * 1023  # orjson's deepest; deeper than repr() can go


@pytest.mark.parametrize(
    "frame",
    [
        '{"event":' + DEEPEST + "}",
        '{"event":"Media","perspective":' + DEEPEST + "}",
        '{"event":"Media","perspective":"Participant","sequenceId":' + DEEPEST + "}",
        '{"event":"Media","perspective":"Participant","sequenceId":1,"media":' + DEEPEST + "}",
        '{"event":"Start","metadata":{"callId":' + DEEPEST + "}}",
        '{"event":"Start","metadata":{"callId":"c","sessionId":' + DEEPEST + "}}",
        '{"event":"Start","metadata":{"callId":"c","sampleRateHertz":' + DEEPEST + "}}",
        '{"event":"Start","metadata":{"callId":"c","contentType":' + DEEPEST + "}}",
        '{"event":"Connected","protocol":' + DEEPEST + "}",
        '{"event":"Stop","perspective":' + DEEPEST + "}",
    ],
)
def test_deep_nesting_in_any_field_is_a_protocol_error_or_a_message(frame) -> None:
    """Regression: error messages were built with str() of the field, which raises
    RecursionError on values nested about a thousand deep (hypothesis runs its examples with
    a raised recursion limit, so this is checked here)."""
    try:
        message = parse(frame)
    except ProtocolError:
        return
    assert_well_formed(message)


@pytest.mark.parametrize(
    ("media", "kind"),
    [("AAé=", "bad_base64"), ("ÿÿÿÿ", "bad_base64"), ("AA\x00=", "bad_base64")],
)
def test_media_with_characters_outside_ascii_is_a_protocol_error(media, kind) -> None:
    """Regression: binascii raises ValueError (not binascii.Error) for non-ASCII text."""
    frame = json.dumps({"event": "Media", "perspective": "Participant", "sequenceId": 1})
    frame = frame[:-1] + f', "media": {json.dumps(media)}}}'
    with pytest.raises(ProtocolError) as raised:
        parse(frame)
    assert raised.value.kind == kind


@pytest.mark.parametrize("sent_at", [-1e308, 1e308, 0, -1, 10**19, True, "1700000000", None])
def test_a_sent_at_that_cannot_be_a_clock_is_ignored(sent_at) -> None:
    media = base64.b64encode(b"\x01" * 160).decode()
    message = parse(
        json.dumps(
            {
                "event": "Media",
                "perspective": "Participant",
                "sequenceId": 1,
                "media": media,
                "sentAt": sent_at,
            }
        )
    )
    assert message.payload == b"\x01" * 160
    assert message.sent_at is None


def test_a_plausible_sent_at_is_kept() -> None:
    media = base64.b64encode(b"\x01" * 160).decode()
    frame = {"event": "Media", "perspective": "Participant", "sequenceId": 1, "media": media}
    assert parse(json.dumps({**frame, "sentAt": 1_800_000_000.25})).sent_at == 1_800_000_000.25


@given(lags=st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=300))
@example(lags=[1e308 * 1000, float("nan"), -1e308 * 1000])
def test_lag_histogram_stays_finite_and_bounded(lags) -> None:
    """Regression: a sender's sentAt of -1e308 made an infinite lag (OverflowError); and a
    sender choosing its clock could make one bucket per frame."""
    lag = LagHistogram()
    for value in lags:
        lag.add(value)
    summary = lag.to_dict()
    json.dumps(summary, allow_nan=False)  # storable in PostgreSQL's jsonb
    assert summary["count"] == len(lags)
    assert all(0 <= int(bucket) <= MAX_LAG_MS for bucket in summary["histogram"])
    assert LagHistogram(summary["histogram"]).to_dict()["histogram"] == summary["histogram"]


def test_lag_histogram_buckets_are_exact_to_a_second_and_few_beyond() -> None:
    lag = LagHistogram()
    lags = [ms + 0.3 for ms in range(0, 1000)] + [float(ms) for ms in range(1000, 10**7, 97)]
    for value in lags:
        lag.add(value)
    buckets = sorted(int(b) for b in lag.to_dict()["histogram"])
    assert buckets[:1000] == list(range(1000))
    assert len(buckets) < 1400
    assert buckets[-1] == MAX_LAG_MS
