"""Hostile numbers and lengths through the pure audio pipeline: whatever a sender puts in a
frame, work per frame, memory per leg and the recording's length stay bounded, and the
recording of an honest stream stays sample-exact. No Django."""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import signal
import struct
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from streaming.audio import mulaw
from streaming.audio.lag import LagHistogram
from streaming.audio.pipeline import (
    PAIRING_FRAMES,
    USUAL_FRAME_RANGE,
    CallPipeline,
    PipelineConfig,
)
from streaming.audio.protocol import CONFERENCE, PARTICIPANT, Media, ProtocolError, parse
from streaming.audio.reorder import ReorderBuffer
from streaming.audio.sequencer import _OWNERS, _SEEN, DETECT_MAX_FRAMES, SocketSequencer
from streaming.audio.wav import HEADER_BYTES, SAMPLE_RATE, StereoWavWriter, wav_read_stereo
from tests.streaming.test_audio_pipeline import (
    FRAME,
    LEGS,
    build,
    expected_recording,
    make_frames,
)

HUGE = 10**20
ALLOWANCE = int(PipelineConfig().silence_allowance_seconds * SAMPLE_RATE)


class WorkUnbounded(Exception):
    """The code under test used more CPU than any bounded amount of work needs."""


@contextlib.contextmanager
def cpu_limit(seconds: float):
    """Fail (instead of hanging and eating memory) when the block uses more CPU time than
    ``seconds``. A profiling timer, so pytest-timeout's real-time alarm is left alone."""

    def expired(signum, frame):
        raise WorkUnbounded(f"more than {seconds} s of CPU")

    previous = signal.signal(signal.SIGPROF, expired)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def releases(out) -> list[tuple]:
    return [(r.sequence, r.item, r.count) for r in out]


# --- The reorder buffer: numbers cost nothing in proportion to their size ----------------------


@pytest.mark.parametrize(
    "first", [5000, 2**63 - 1, HUGE, 10**4000], ids=["5000", "2^63-1", "10^20", "10^4000"]
)
def test_a_huge_first_number_then_1_2_3_is_one_jump_not_a_gap_to_fill(first) -> None:
    buffer = ReorderBuffer(window=50, window_seconds=1.0)
    with cpu_limit(1.0):
        out = buffer.push(first, "first", 0.0)
        for sequence in (1, 2, 3):
            out += buffer.push(sequence, sequence, 0.02 * sequence)
        out += buffer.drain()
    # what arrived is written, in its order; nothing is invented between 3 and ``first``
    assert releases(out) == [(first, "first", 1), (1, 1, 1), (2, 2, 1), (3, 3, 1)]
    assert buffer.counters.jumps == 1
    assert buffer.counters.gaps == 0
    assert buffer.held == 0


def test_a_continued_numbering_whose_first_number_is_huge_jumps_there() -> None:
    """A reconnect continues the last socket's numbering: its first frame was not checked."""
    buffer = ReorderBuffer(window=50, window_seconds=1.0, next_sequence=51)
    with cpu_limit(1.0):
        out = buffer.push(HUGE, "huge", 0.0)
        for sequence in (51, 52, 53, 54):  # the sender goes on where it was: followed
            out += buffer.push(sequence, sequence, 0.02)
        out += buffer.drain()
    assert releases(out) == [(HUGE, "huge", 1), *[(s, s, 1) for s in (51, 52, 53, 54)]]
    assert buffer.counters.jumps == 2  # to the huge number, and back
    assert buffer.counters.late == 0


def test_a_run_of_missing_numbers_is_one_gap_that_says_how_many() -> None:
    buffer = ReorderBuffer(window=50, window_seconds=1.0)
    assert releases(buffer.push(1, "a", 0.0)) == [(1, "a", 1)]
    # 2900 numbers later (within the largest jump filled): one gap up to a window behind it
    assert releases(buffer.push(2901, "b", 0.0)) == [(2, None, 2850)]
    assert buffer.held == 1
    assert releases(buffer.drain()) == [(2852, None, 49), (2901, "b", 1)]
    assert buffer.counters.gaps == 2899


@pytest.mark.parametrize("jump", [2999, 3000, 3001])
def test_jumps_at_the_limit_fill_up_to_it_and_restart_past_it(jump) -> None:
    buffer = ReorderBuffer(window=5, window_seconds=1.0, max_jump=3000)
    buffer.push(1, "a", 0.0)
    out = buffer.push(1 + jump, "b", 0.0) + buffer.drain()
    assert releases(out)[-1] == (1 + jump, "b", 1)
    assert len(out) <= 3
    filled = sum(r.count for r in out if r.item is None)
    assert (filled, buffer.counters.jumps) == ((jump - 1, 0) if jump <= 3000 else (0, 1))


# --- The sequencer ---------------------------------------------------------------------------


def test_a_lost_run_of_a_shared_counter_is_split_between_the_legs_in_o1() -> None:
    """10 s lost on a socket that numbers both legs with one counter: 1000 numbers, half each,
    in a handful of gaps rather than one per number."""
    sequencer = SocketSequencer(window_frames=50, window_seconds=1.0, continue_socket_from=0)

    def leg(n: int) -> str:
        return PARTICIPANT if n % 2 else CONFERENCE

    out = []
    with cpu_limit(1.0):
        for n in [*range(1, 11), *range(1011, 1111)]:
            released = sequencer.push(leg(n), n, n, 0.01 * n if n < 11 else 10 + 0.01 * n)
            # a frame releases itself and at most a few gaps, however many numbers they stand for
            assert len([o for o in released if o.item is None]) <= 4
            out += released
        out += sequencer.drain()
    gaps = [o for o in out if o.item is None]
    lost = {
        name: {
            o.sequence + k * o.step for o in gaps if o.perspective == name for k in range(o.count)
        }
        for name in LEGS
    }
    assert lost[PARTICIPANT] == set(range(11, 1011, 2))  # each leg lost its own numbers
    assert lost[CONFERENCE] == set(range(12, 1011, 2))
    assert sequencer.counters[PARTICIPANT].gaps == sequencer.counters[CONFERENCE].gaps == 500
    assert [o.item for o in out if o.item is not None] == [*range(1, 11), *range(1011, 1111)]


def test_detection_remembers_a_bounded_number_of_frames() -> None:
    sequencer = SocketSequencer(window_frames=50, window_seconds=1.0)
    sequencer.push(PARTICIPANT, 1, "a", 0.0)
    sequencer.push(CONFERENCE, 1_000_000, "b", 0.0)  # a second leg: detection starts
    for n in range(2, 20_000):  # the first leg floods before any tick ends the detection
        sequencer.push(PARTICIPANT, n, n, 0.0)
    assert all(len(seen) <= _SEEN for seen in sequencer._seen.values())
    assert sequencer.held <= 2 * 2 * 50 + DETECT_MAX_FRAMES


def test_a_closed_socket_costs_little_however_many_a_call_sees(tmp_path) -> None:
    pipeline = CallPipeline(path=tmp_path / "a.wav")
    payload = b"\x7f" * FRAME
    sequence, now = 1, 0.0
    tracemalloc.start()
    try:
        for index in range(120):  # a reconnecting sender: each socket a few frames
            feed = pipeline.open_socket()
            for _ in range(3):
                pipeline.media(feed, Media(PARTICIPANT, sequence, payload), now)
                sequence, now = sequence + 1, now + 0.02
            pipeline.close_socket(feed)
            if index == 19:
                before, _ = tracemalloc.get_traced_memory()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (after - before) / 100 < 8 * 1024  # bytes per closed socket
    # frames on a socket already written off are counted, never placed
    pipeline.media(feed, Media(PARTICIPANT, sequence, payload), now)
    stats = pipeline.close()
    assert stats["errors"] == {"media_after_close": 1}
    assert stats["perspectives"][PARTICIPANT]["frames_written"] == 360


# --- The pipeline: the recording never runs ahead of the call's clock -----------------------


def _feed(pipeline: CallPipeline, feed, frames: list[tuple[str, int, bytes, float]]) -> None:
    for perspective, sequence, payload, now in frames:
        pipeline.media(feed, Media(perspective, sequence, payload), now)
        pipeline.tick(now)


@pytest.mark.parametrize("first", [HUGE, 10**4000], ids=["10^20", "10^4000"])
def test_a_call_whose_first_frame_is_huge_records_what_arrived(tmp_path, first) -> None:
    rng = random.Random(1)
    payloads = [rng.randbytes(FRAME) for _ in range(51)]
    pipeline = CallPipeline(path=tmp_path / "a.wav")
    feed = pipeline.open_socket()
    with cpu_limit(2.0):
        _feed(pipeline, feed, [(PARTICIPANT, first, payloads[0], 0.0)])
        _feed(pipeline, feed, [(PARTICIPANT, n, payloads[n], 0.02 * n) for n in range(1, 51)])
        pipeline.stop(feed, PARTICIPANT)
        stats = pipeline.close()
    left = wav_read_stereo(tmp_path / "a.wav")[:, 0]
    assert np.array_equal(left, mulaw.decode(b"".join(payloads)))
    assert stats["perspectives"][PARTICIPANT]["sequence_jumps"] == 1
    assert stats["perspectives"][PARTICIPANT]["gaps_filled_frames"] == 0


@pytest.mark.parametrize("numbering", ["per_perspective", "per_socket"])
def test_a_reconnect_whose_first_frame_is_huge_keeps_the_call_exact(tmp_path, numbering) -> None:
    """The reconnect continues the last socket's numbering, so its buffer starts there: an
    absurd first number must neither be filled up to nor stop the numbering that follows."""
    frames = make_frames(random.Random(2), 100)
    messages = build(frames, numbering=numbering)
    pipeline = CallPipeline(path=tmp_path / "a.wav")
    first = pipeline.open_socket()
    for position, message in enumerate(messages[:100]):  # 50 frames a leg, then it drops
        pipeline.media(first, message, (position // 2) * 0.02)
    pipeline.close_socket(first)
    second = pipeline.open_socket()
    odd = b"\x00" * FRAME  # the absurdly numbered frame: recorded, where it came
    with cpu_limit(2.0):
        pipeline.media(second, Media(PARTICIPANT, HUGE, odd), 1.0)
        for position, message in enumerate(messages[100:]):
            now = 1.0 + (position // 2) * 0.02
            pipeline.media(second, message, now)
            pipeline.tick(now)
        pipeline.stop(second, None)
        pipeline.stop(second, None)
        stats = pipeline.close()
    recording = wav_read_stereo(tmp_path / "a.wav")
    expected_left = mulaw.decode(
        b"".join([*frames[PARTICIPANT][:50], odd, *frames[PARTICIPANT][50:]])
    )
    expected_right = mulaw.decode(b"".join(frames[CONFERENCE]))
    assert np.array_equal(recording[: len(expected_left), 0], expected_left)
    assert np.array_equal(recording[: len(expected_right), 1], expected_right)
    assert recording.shape[0] == len(expected_left)
    for leg in LEGS:
        assert stats["perspectives"][leg]["gaps_filled_frames"] == 0
    assert stats["perspectives"][PARTICIPANT]["sequence_jumps"] >= 1


@pytest.mark.parametrize(
    ("sizes", "usual"),
    [
        ([4000], 160),  # one oversized frame first
        ([1000] * 5 + [160], 160),  # abnormal lengths, however many
        ([1] * 5 + [160], 160),  # tiny ones: never the usual either
        ([80] * 5, 80),  # 10 ms frames: a G.711 packet time, seen three times
        ([240, 160, 160], 160),  # one 30 ms frame does not make the leg 30 ms
    ],
    ids=["oversized-first", "abnormal", "tiny", "10ms", "one-30ms"],
)
def test_the_usual_frame_length_is_never_set_by_an_outlier(tmp_path, sizes, usual) -> None:
    """The usual length fills lost frames: one odd frame must not make each gap huge."""
    rng = random.Random(3)
    payloads = [rng.randbytes(size) for size in sizes]
    pipeline = CallPipeline(path=tmp_path / "a.wav")
    feed = pipeline.open_socket()
    for index, payload in enumerate(payloads):
        pipeline.media(feed, Media(PARTICIPANT, index + 1, payload), 0.02 * index)
    last = rng.randbytes(usual)
    pipeline.media(feed, Media(PARTICIPANT, len(sizes) + 4, last), 0.02 * len(sizes))  # 3 lost
    pipeline.stop(feed, PARTICIPANT)
    stats = pipeline.close()
    per_leg = stats["perspectives"][PARTICIPANT]
    assert per_leg["frame_bytes"] == usual
    assert per_leg["gaps_filled_frames"] == 3
    assert per_leg["gaps_filled_ms"] == 3 * usual // 8
    left = wav_read_stereo(tmp_path / "a.wav")[:, 0]
    assert np.array_equal(left, mulaw.decode(b"".join(payloads) + mulaw.silence(3 * usual) + last))


def test_silence_asked_for_faster_than_time_passes_is_refused_and_counted(tmp_path) -> None:
    """Frame 1, then frame 3000 a moment later: 60 s of silence asked for in 20 ms."""
    pipeline = CallPipeline(path=tmp_path / "a.wav")
    feed = pipeline.open_socket()
    payload = b"\x7f" * FRAME
    _feed(pipeline, feed, [(PARTICIPANT, 1, payload, 0.0)])
    _feed(pipeline, feed, [(PARTICIPANT, n, payload, 0.02) for n in range(3000, 3011)])
    pipeline.stop(feed, PARTICIPANT)
    stats = pipeline.close()
    per_leg = stats["perspectives"][PARTICIPANT]
    recording = wav_read_stereo(tmp_path / "a.wav")
    real = 12 * FRAME
    assert recording.shape[0] <= real + ALLOWANCE + real  # clock: the audio sent, plus 2 s
    assert per_leg["gaps_filled_ms"] + per_leg["silence_refused_ms"] == 2998 * 20
    assert per_leg["silence_refused_ms"] >= 2998 * 20 - 2000 - 12 * 20 * 2
    assert per_leg["frames_written"] == 12


@pytest.mark.parametrize("numbering", ["per_perspective", "per_socket"])
def test_a_real_outage_is_filled_sample_exact(tmp_path, numbering) -> None:
    """10 s with nothing from either leg, in real time: the silence is owed, all of it."""
    frames = make_frames(random.Random(4), 700)
    dropped = {(leg, i) for leg in LEGS for i in range(100, 600)}
    messages = build(frames, numbering=numbering, dropped=dropped)
    pipeline = CallPipeline(path=tmp_path / "a.wav")
    feed = pipeline.open_socket()
    per_leg_numbers = numbering == "per_perspective"
    for message in messages:
        index = message.sequence - 1 if per_leg_numbers else (message.sequence - 1) // 2
        now = 100.0 + index * 0.02
        pipeline.media(feed, message, now)
        pipeline.tick(now)
    pipeline.stop(feed, None)
    pipeline.stop(feed, None)
    stats = pipeline.close()
    assert np.array_equal(wav_read_stereo(tmp_path / "a.wav"), expected_recording(frames, dropped))
    for leg in LEGS:
        assert stats["perspectives"][leg]["gaps_filled_frames"] == 500
        assert stats["perspectives"][leg]["silence_refused_ms"] == 0


@pytest.mark.parametrize("jumped_to", [10**30, 10**400], ids=["10^30", "10^400"])
def test_a_leg_whose_numbers_jumped_does_not_break_the_other_legs_offset(
    tmp_path, jumped_to
) -> None:
    """The later leg's offset is found from the first frames' numbers and arrivals: a number
    the sender made up must not take part (it misplaced the leg, or overflowed a float)."""
    pipeline = CallPipeline(path=tmp_path / "a.wav")
    feed = pipeline.open_socket()
    payload = b"\x7f" * FRAME
    _feed(pipeline, feed, [(PARTICIPANT, n, payload, 0.02 * n) for n in range(1, 11)])
    _feed(pipeline, feed, [(PARTICIPANT, jumped_to, payload, 0.22)])
    _feed(pipeline, feed, [(CONFERENCE, n, payload, 0.3 + 0.02 * n) for n in range(1, 11)])
    pipeline.tick(2.0)  # the caller's leg waited a window: its offset is decided now
    stats = pipeline.close()
    assert stats["perspectives"][CONFERENCE]["offset_frames"] == 15  # arrived 0.3 s later
    assert stats["perspectives"][CONFERENCE]["frames_written"] == 10


def test_a_leg_cannot_be_placed_past_the_clock_through_the_other_legs_numbers(tmp_path) -> None:
    """One counter for the socket: the agent's numbers jump (a refused gap), then the caller
    appears next to them. It belongs next to the agent's audio as written, not 40 s ahead."""
    pipeline = CallPipeline(path=tmp_path / "a.wav")
    feed = pipeline.open_socket()
    payload = b"\x7f" * FRAME
    arrivals = [(PARTICIPANT, n, 0.0) for n in range(1, 20, 2)]
    arrivals += [(PARTICIPANT, n, 0.01) for n in range(2001, 2060, 2)]
    arrivals += [(CONFERENCE, n, 0.01) for n in range(2002, 2061, 2)]
    arrivals.sort(key=lambda a: (a[2], a[1]))
    for perspective, sequence, now in arrivals:
        pipeline.media(feed, Media(perspective, sequence, payload), now)
    pipeline.tick(2.0)
    pipeline.stop(feed, None)
    pipeline.stop(feed, None)
    stats = pipeline.close()
    assert stats["numbering"] == "per_socket"
    real = 40 * FRAME
    assert wav_read_stereo(tmp_path / "a.wav").shape[0] <= ALLOWANCE + 2 * real
    refused = sum(stats["perspectives"][leg]["silence_refused_ms"] for leg in LEGS)
    assert refused > 30_000


# --- The writer ------------------------------------------------------------------------------


def test_a_placement_far_ahead_costs_one_ring_not_the_distance(tmp_path) -> None:
    path = tmp_path / "a.wav"
    writer = StereoWavWriter(path, ring_samples=16)
    writer.place(0, 0, b"\x10" * 8)
    far = 100_000_000  # 3.5 hours ahead
    with cpu_limit(1.0):
        writer.place(1, far, b"\x20" * 8)
        assert writer.close() == far + 8
    assert path.stat().st_size == HEADER_BYTES + (far + 8) * 4
    assert struct.unpack_from("<I", path.read_bytes()[:HEADER_BYTES], 40)[0] == (far + 8) * 4
    with path.open("rb") as handle:
        head = np.frombuffer(handle.read(HEADER_BYTES + 64 * 4)[HEADER_BYTES:], "<i2")
        handle.seek(HEADER_BYTES + (far - 8) * 4)
        tail = np.frombuffer(handle.read(), "<i2").reshape(-1, 2)
    first = mulaw.decode(b"\x10")[0]
    assert np.array_equal(head.reshape(-1, 2)[:8, 0], np.full(8, first))
    assert not head.reshape(-1, 2)[8:].any()  # silence between, read back as zeros
    assert not tail[:8].any()
    assert np.array_equal(tail[8:, 1], mulaw.decode(b"\x20" * 8))


# --- Lag and the protocol --------------------------------------------------------------------


def test_lag_histogram_stays_small_and_finite_whatever_sent_at_says(tmp_path) -> None:
    lag = LagHistogram()
    rng = random.Random(5)
    for _ in range(50_000):
        lag.add(rng.uniform(-1e6, 1e7))
    lag.add(float("inf"))
    assert len(lag.counts) <= 1000 + 1300
    assert math.isfinite(lag.max_ms)
    # through the pipeline: a sentAt at the far end of doubles still makes valid JSON
    pipeline = CallPipeline(path=tmp_path / "a.wav")
    feed = pipeline.open_socket()
    for index, sent_at in enumerate([-1.7e308, 1.7e308, 0.0, 99.99]):
        pipeline.media(feed, Media(PARTICIPANT, index + 1, b"\x7f" * FRAME, sent_at), 100.0)
    stats = pipeline.close()
    json.dumps(stats, allow_nan=False)
    assert stats["lag_ms"]["count"] == 4


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (2**63 - 1, None),
        (str(2**63 - 1), None),
        (2**63, "sequence_out_of_range"),
        (2**64 - 1, "sequence_out_of_range"),  # JSON's largest integer that stays one
        (str(HUGE), "sequence_out_of_range"),
        ("9" * 4000, "sequence_out_of_range"),
    ],
)
def test_sequence_ids_beyond_63_bits_are_refused_with_their_own_kind(value, kind) -> None:
    frame = json.dumps(
        {"event": "Media", "perspective": "Participant", "sequenceId": value, "media": "fw=="}
    )
    if kind is None:
        assert parse(frame).sequence == int(value)
    else:
        with pytest.raises(ProtocolError) as error:
            parse(frame)
        assert error.value.kind == kind


# --- Property: anything a sender can put in frames ------------------------------------------

SEQUENCES = st.one_of(
    st.integers(0, 120),  # near the start
    st.sampled_from([2**63 - 1, 2**63, HUGE, 10**4000, 2**64 - 1]),  # absurd
    st.integers(0, 2**70),
)


@st.composite
def hostile_steps(draw) -> list[tuple]:
    """Frames of both legs with numbers that run, skip, jump just under and over the limits,
    restart, repeat and go absurd; payloads of 1 byte to past the usual range; reconnects,
    Stops and ticks; time that passes in real time (``paced``) or in bursts."""
    steps = []
    cursor = {leg: draw(st.integers(0, 60)) for leg in LEGS}
    for _ in range(draw(st.integers(1, 70))):
        kind = draw(
            st.sampled_from(["frame"] * 6 + ["run", "jump", "absurd", "reconnect", "tick", "stop"])
        )
        leg = draw(st.sampled_from(LEGS))
        if kind in ("frame", "run"):
            count = draw(st.integers(1, 12)) if kind == "run" else 1
            skip = draw(st.sampled_from([0, 0, 0, 1, 2, 7]))
            for _ in range(count):
                cursor[leg] += 1 + skip
                steps.append(("media", leg, cursor[leg], draw(st.sampled_from([160, 160, 1]))))
        elif kind == "jump":
            cursor[leg] += draw(st.sampled_from([49, 50, 51, 2999, 3000, 3001, 50_000]))
            cursor[leg] = max(0, cursor[leg] * draw(st.sampled_from([1, 1, -1])))
            steps.append(("media", leg, cursor[leg], draw(st.integers(1, 600))))
        elif kind == "absurd":
            sequence = draw(SEQUENCES)
            steps.append(("media", leg, sequence, draw(st.integers(1, 600))))
            if draw(st.booleans()):
                cursor[leg] = sequence
        elif kind == "reconnect":
            steps.append(("reconnect",))
        elif kind == "tick":
            steps.append(("tick", draw(st.sampled_from([0.0, 0.05, 0.3, 1.1, 5.0]))))
        else:
            steps.append(("stop", draw(st.sampled_from([*LEGS, None]))))
    return steps


def held_limit(window: int) -> int:
    """Frames a socket may hold: two legs' buffers (windows doubled while the numbering is
    detected), or the shared counter's, plus the new leg's frames held while detecting."""
    return 2 * (2 * window + 1) + DETECT_MAX_FRAMES


def assert_bounded(pipeline: CallPipeline, window: int) -> None:
    for feed in pipeline.feeds:
        sequencer = feed.sequencer
        assert sequencer.held <= held_limit(window)
        assert all(len(seen) <= _SEEN for seen in sequencer._seen.values())
        assert len(sequencer._owners) in (0, _OWNERS)
        buffers = [*sequencer._buffers.values()]
        if sequencer._global is not None:
            buffers.append(sequencer._global)
        for buffer in buffers:
            assert len(buffer._restart_run) <= 3
            assert len(buffer.pending) <= 2 * window + 1
    for track in pipeline.tracks.values():
        assert len(track.first_arrivals) <= PAIRING_FRAMES * 4
        assert len(track.first_positions) <= PAIRING_FRAMES * 4
        assert len(track.recent_arrivals) <= 128
        assert len(track.recent_positions) <= 128
        assert len(track.waiting) <= PAIRING_FRAMES
        assert len(track._lengths) <= 8
        assert USUAL_FRAME_RANGE[0] <= track.frame_bytes <= USUAL_FRAME_RANGE[1]
    assert len(pipeline.lag.counts) <= 2100


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=hostile_steps(),
    window=st.integers(1, 8),
    window_seconds=st.sampled_from([0.05, 0.2, 1.0]),
    paced=st.booleans(),
)
@example(  # the report's attack: a first number of 10^20, then 1, 2, 3
    steps=[("media", PARTICIPANT, HUGE, 160), *[("media", PARTICIPANT, n, 160) for n in (1, 2, 3)]],
    window=8,
    window_seconds=1.0,
    paced=False,
)
@example(  # one oversized frame, then a gap just under the largest filled
    steps=[("media", PARTICIPANT, 1, 600), ("media", PARTICIPANT, 3000, 160)],
    window=8,
    window_seconds=1.0,
    paced=True,
)
@example(  # a reconnect whose first frame is huge, both legs
    steps=[
        ("media", PARTICIPANT, 1, 160),
        ("media", CONFERENCE, 1, 160),
        ("reconnect",),
        ("media", CONFERENCE, HUGE, 160),
        ("media", PARTICIPANT, 2, 160),
        ("media", CONFERENCE, 2, 160),
    ],
    window=2,
    window_seconds=0.2,
    paced=False,
)
def test_no_frames_can_raise_or_grow_memory_or_outrun_the_clock(
    tmp_path_factory, steps, window, window_seconds, paced
) -> None:
    path = tmp_path_factory.mktemp("hostile") / "call.wav"
    config = PipelineConfig(window_frames=window, window_seconds=window_seconds, ring_seconds=0.5)
    pipeline = CallPipeline(path=path, config=config)
    feed = pipeline.open_socket()
    start = now = 1_000.0
    largest = 0
    with cpu_limit(20.0):
        for step in steps:
            if step[0] == "media":
                _, leg, sequence, length = step
                # paced: never faster than real time, both legs together (else a burst)
                now += length / SAMPLE_RATE if paced else 0.0001
                largest = max(largest, length)
                pipeline.media(feed, Media(leg, sequence, b"\x7f" * length), now)
            elif step[0] == "reconnect":
                pipeline.close_socket(feed)
                feed = pipeline.open_socket()
            elif step[0] == "tick":
                now += step[1]
                pipeline.tick(now)
            else:
                pipeline.stop(feed, step[1])
            assert_bounded(pipeline, window)
            elapsed = (now - start) * SAMPLE_RATE
            sent = max(t.bytes for t in pipeline.tracks.values())
            for track in pipeline.tracks.values():
                # silence invented on a leg: never past the call's clock plus the allowance
                invented = track.offset_samples + track.gaps_filled_samples
                assert invented <= max(elapsed, sent) + ALLOWANCE
        stats = pipeline.close()
    json.dumps(stats, allow_nan=False)
    length = wav_read_stereo(path).shape[0]
    assert stats["recording"]["bytes"] == HEADER_BYTES + length * 4
    if paced:
        # in real time, the recording is no longer than the call has lasted, plus the
        # allowance, plus what the buffers may hold back at a time (and the first frame)
        held = (held_limit(window) + 1) * largest
        assert length <= (now - start) * SAMPLE_RATE + ALLOWANCE + held
    assert os.path.getsize(path) == HEADER_BYTES + length * 4
