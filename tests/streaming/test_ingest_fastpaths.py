"""The per-frame fast paths against the slow paths they stand in for: no database, no server."""

from __future__ import annotations

import math
import random
from dataclasses import astuple

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from streaming.audio import mulaw
from streaming.audio.pipeline import CallPipeline, PipelineConfig
from streaming.audio.protocol import CONFERENCE, PARTICIPANT, Media
from streaming.audio.reorder import Counters, ReorderBuffer
from streaming.audio.wav import StereoWavWriter, wav_read_stereo
from streaming.ingest.config import IngestConfig
from streaming.ingest.registry import LiveCall
from streaming.ingest.runtime import IngestRuntime
from streaming.ingest.ticker import TICK_SLICES

# --- ReorderBuffer.take_next ------------------------------------------------------------------

# One step of an arrival script: a frame number, or time passing (then ``expire``).
FRAME, PAUSE = "frame", "pause"


@st.composite
def arrival_scripts(draw) -> list[tuple[str, float]]:
    """Frames as a sender and a network might deliver them: runs in order, gaps, local
    reordering, duplicates, stragglers far behind, numbering jumps and restarts, pauses."""
    cursor = draw(st.integers(0, 2500))  # mostly above the window: the buffer first holds
    skipped: list[int] = []
    script: list[tuple[str, float]] = []
    steps = st.one_of(
        st.tuples(st.just("run"), st.integers(1, 15)),
        st.tuples(st.just("skip"), st.integers(1, 12)),
        st.tuples(st.just("swap"), st.integers(2, 6)),
        st.tuples(st.just("repeat"), st.integers(1, 8)),
        st.tuples(st.just("straggler"), st.integers(0, 3)),
        st.tuples(st.just("jump"), st.integers(1, 40)),
        st.tuples(st.just("restart"), st.integers(1, 3000)),
        st.tuples(st.just("pause"), st.integers(1, 40)),
    )
    for kind, value in draw(st.lists(steps, min_size=1, max_size=40)):
        if kind == "run":
            script += [(FRAME, cursor + i) for i in range(value)]
            cursor += value
        elif kind == "skip":  # lost frames, maybe re-sent later as stragglers
            skipped += range(cursor, cursor + value)
            cursor += value
        elif kind == "swap":  # the next few in reverse order
            script += [(FRAME, cursor + i) for i in reversed(range(value))]
            cursor += value
        elif kind == "repeat":  # a copy of a recent frame
            script.append((FRAME, max(0, cursor - value)))
        elif kind == "straggler" and skipped:  # a lost frame arriving (far) late
            script.append((FRAME, skipped.pop(min(value, len(skipped) - 1))))
        elif kind == "jump":  # past max_jump (at most 100 below)
            cursor += 100 + value
        elif kind == "restart":  # the sender numbers from lower again
            cursor = max(0, cursor - value)
        elif kind == "pause":
            script.append((PAUSE, value / 100))
    return script


def releases_of(out) -> list[tuple[int, object]]:
    return [(release.sequence, release.item) for release in out]


def buffer_state(buffer: ReorderBuffer) -> tuple:
    return (
        astuple(buffer.counters),
        buffer.next_sequence,
        buffer.max_seen,
        buffer.last_released,
        buffer.first_sequence,
        sorted(buffer.pending),
    )


@settings(max_examples=300, deadline=None)
@given(
    script=arrival_scripts(),
    window=st.integers(1, 8),
    window_seconds=st.sampled_from([0.05, 0.2, 1.0]),
    max_jump=st.integers(20, 100),
    next_sequence=st.none() | st.integers(0, 60),
)
@example(  # in order from 1: nearly every frame takes the fast path
    script=[(FRAME, s) for s in range(1, 40)],
    window=4,
    window_seconds=1.0,
    max_jump=50,
    next_sequence=None,
)
@example(  # gap, duplicate, reorder, a numbering jump, then in order again
    script=[(FRAME, s) for s in [1, 2, 3, 5, 4, 4, 6, 7, 200, 201, 202, 203, 7, 204, 205]],
    window=2,
    window_seconds=1.0,
    max_jump=50,
    next_sequence=None,
)
@example(  # a restart: three contiguous numbers far behind, then in order from there
    script=[(FRAME, s) for s in [*range(500, 520), 10, 11, 12, 13, 14, 15]],
    window=3,
    window_seconds=1.0,
    max_jump=3000,
    next_sequence=None,
)
@example(  # two stragglers far behind, an in-order frame, a third: not a restart run
    script=[(FRAME, s) for s in [1, 2, 3, *range(7, 31), 4, 5, 31, 6, 32]],
    window=2,
    window_seconds=1.0,
    max_jump=3000,
    next_sequence=None,
)
def test_take_next_then_push_releases_exactly_what_push_alone_releases(
    script, window, window_seconds, max_jump, next_sequence
) -> None:
    params = {
        "window": window,
        "window_seconds": window_seconds,
        "max_jump": max_jump,
        "next_sequence": next_sequence,
    }
    slow, fast = ReorderBuffer(**params), ReorderBuffer(**params)
    now = 1_000.0
    for index, (kind, value) in enumerate(script):
        if kind == PAUSE:
            now += value
            assert releases_of(fast.expire(now)) == releases_of(slow.expire(now)), index
        else:
            now += 0.02
            sequence = int(value)
            item = (sequence, index)  # each copy distinct: which copy was kept shows
            expected = releases_of(slow.push(sequence, item, now))
            if fast.take_next(sequence, fast.counters):
                got = [(sequence, item)]
            else:
                got = releases_of(fast.push(sequence, item, now))
            assert got == expected, (index, sequence)
        assert buffer_state(fast) == buffer_state(slow), (index, kind, value)
    assert releases_of(fast.drain()) == releases_of(slow.drain())
    assert buffer_state(fast) == buffer_state(slow)


def test_take_next_takes_every_in_order_frame_after_the_first() -> None:
    buffer = ReorderBuffer(window=5, window_seconds=1.0)
    counters = Counters()
    assert buffer.take_next(1, counters) is False  # the very first frame goes through push
    assert releases_of(buffer.push(1, 1, 0.0, counters)) == [(1, 1)]
    assert all(buffer.take_next(s, counters) for s in range(2, 101))
    assert counters == Counters(received=100)
    assert (buffer.next_sequence, buffer.max_seen, buffer.last_released) == (101, 100, 100)
    # a copy of a frame the fast path released is still recognised as a duplicate
    assert buffer.push(57, "again", 0.0, counters) == []
    assert counters.duplicates == 1


@pytest.mark.parametrize(
    ("setup", "sequence"),
    [
        ([], 1),  # nothing pushed yet: the base is not known
        ([1, 2, 3], 3),  # a copy of the last
        ([1, 2, 3], 5),  # a gap before it
        ([1, 2, 4], 3),  # the next, but 4 waits: push releases both
        ([1, 2, 4], 4),  # a copy of a waiting frame
        ([40, 41], 42),  # first number above the window: still holding for lower ones
    ],
    ids=["first", "duplicate", "gap", "fills-gap", "duplicate-of-waiting", "holding"],
)
def test_take_next_declines_what_only_push_handles_and_changes_nothing(setup, sequence) -> None:
    buffer = ReorderBuffer(window=5, window_seconds=1.0)
    for s in setup:
        buffer.push(s, s, 0.0)
    before = buffer_state(buffer)
    counters = Counters()
    assert buffer.take_next(sequence, counters) is False
    assert counters == Counters()
    assert buffer_state(buffer) == before


# --- mulaw.PAIR_DECODE_TABLE ------------------------------------------------------------------


def test_pair_decode_table_is_both_channels_decoded_little_endian() -> None:
    table = mulaw.PAIR_DECODE_TABLE
    assert table.shape == (65536,)
    assert table.dtype == np.uint32
    index = np.arange(65536)
    left, right = index & 0xFF, index >> 8
    stereo = table.astype("<u4").view("<i2").reshape(-1, 2)
    assert np.array_equal(stereo[:, 0], mulaw.DECODE_TABLE[left])
    assert np.array_equal(stereo[:, 1], mulaw.DECODE_TABLE[right])


def test_pair_table_indexed_by_interleaved_codes_gives_the_stereo_frames() -> None:
    """How the writer uses it: interleaved (left, right) code bytes read as ``<u2``."""
    rng = np.random.default_rng(5)
    left = rng.integers(0, 256, 4000, dtype=np.uint8)
    right = rng.integers(0, 256, 4000, dtype=np.uint8)
    codes = np.empty(8000, dtype=np.uint8)
    codes[0::2], codes[1::2] = left, right
    frames = mulaw.PAIR_DECODE_TABLE[codes.view("<u2")].astype("<u4").view("<i2")
    assert np.array_equal(
        frames.reshape(-1, 2), np.stack([mulaw.decode(left), mulaw.decode(right)], 1)
    )


# --- StereoWavWriter --------------------------------------------------------------------------


@st.composite
def writer_scripts(draw) -> tuple[int, list[tuple]]:
    """Placements on both channels (wrapping around a small ring, patching behind what is
    committed) and commits, never more than the ring can hold ahead of the committed audio."""
    ring = draw(st.sampled_from([16, 37, 64]))
    committed = 0
    steps = []
    for _ in range(draw(st.integers(1, 30))):
        if draw(st.integers(0, 3)) == 0:
            through = draw(st.integers(0, committed + ring + 10))
            steps.append(("commit", through))
            committed = max(committed, min(through, committed + ring))
        else:
            length = draw(st.integers(1, ring))
            start = draw(st.integers(0, committed + 2 * ring - length))
            channel = draw(st.integers(0, 1))
            payload = draw(st.binary(min_size=length, max_size=length))
            steps.append(("place", channel, start, payload))
            committed = max(committed, start + length - ring)
    return ring, steps


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(script=writer_scripts())
def test_writer_records_every_placement_at_its_position(tmp_path_factory, script) -> None:
    ring, steps = script
    path = tmp_path_factory.mktemp("wav") / "call.wav"
    writer = StereoWavWriter(path, ring_samples=ring)
    model_size = 2 * ring * (len(steps) + 1) + 64
    codes = np.full((2, model_size), mulaw.SILENCE_BYTE, dtype=np.uint8)  # what was placed
    length = 0
    for step in steps:
        if step[0] == "commit":
            writer.commit(step[1])
        else:
            _, channel, start, payload = step
            writer.place(channel, start, payload)
            codes[channel, start : start + len(payload)] = np.frombuffer(payload, np.uint8)
            length = max(length, start + len(payload))
        length = max(length, writer.committed)
    assert writer.close() == length
    expected = np.stack([mulaw.decode(codes[0, :length]), mulaw.decode(codes[1, :length])], 1)
    assert np.array_equal(wav_read_stereo(path), expected)


def test_writer_wraps_the_ring_in_steps_sample_exact(tmp_path) -> None:
    rng = random.Random(8)
    ring = 50
    writer = StereoWavWriter(tmp_path / "a.wav", ring_samples=ring)
    left = bytes(rng.randrange(256) for _ in range(400))
    right = bytes(rng.randrange(256) for _ in range(400))
    # the caller's leg starts 7 samples late; frames of 30 samples, committed as they come
    for position in range(0, 360, 30):
        writer.place(0, position, left[position : position + 30])
        writer.place(1, position + 7, right[position : position + 30])
        writer.commit(position + 11)  # through the middle of a frame, across the ring's end
    assert writer.committed < 360  # the end was still in the ring
    assert writer.close() == 367
    recording = wav_read_stereo(tmp_path / "a.wav")
    assert recording.shape == (367, 2)
    assert np.array_equal(recording[:360, 0], mulaw.decode(left[:360]))
    assert np.array_equal(recording[360:, 0], np.zeros(7, np.int16))
    assert np.array_equal(recording[:7, 1], np.zeros(7, np.int16))
    assert np.array_equal(recording[7:, 1], mulaw.decode(right[:360]))


def test_writer_places_audio_far_ahead_of_the_committed_audio(tmp_path) -> None:
    """Regression: a placement more than two rings ahead used to land in ring slots that stood
    for earlier samples (commit writes at most one ring per call)."""
    writer = StereoWavWriter(tmp_path / "a.wav", ring_samples=16)
    payload = bytes(range(8))
    writer.place(0, 100, payload)
    assert writer.close() == 108
    recording = wav_read_stereo(tmp_path / "a.wav")
    expected = np.zeros((108, 2), np.int16)
    expected[100:, 0] = mulaw.decode(payload)
    assert np.array_equal(recording, expected)


def dbfs(samples: np.ndarray) -> float:
    rms = math.sqrt(float(np.mean(samples.astype(np.float64) ** 2)))
    return round(20 * math.log10(max(rms, 1.0) / 32768.0), 1)


def test_levels_are_those_of_the_last_commit(tmp_path) -> None:
    writer = StereoWavWriter(tmp_path / "a.wav", ring_samples=800)
    assert (writer.levels.left_dbfs, writer.levels.right_dbfs) == (-120.0, -120.0)  # none yet
    square = bytes([0x80, 0x00]) * 100  # mu-law full scale, +32124 and -32124
    quiet = mulaw.encode(np.full(200, 1000, dtype=np.int16))
    writer.place(0, 0, square)
    writer.place(1, 0, mulaw.silence(200))
    writer.commit(200)
    levels = writer.levels
    assert levels.left_dbfs == dbfs(mulaw.decode(square)) == -0.2  # about full scale
    assert levels.right_dbfs == -90.3  # digital silence: RMS floored at one step
    assert writer.levels == levels  # asked again, no new commit: unchanged

    writer.place(0, 200, quiet)  # the right leg sends nothing this time: silence
    writer.commit(400)
    levels = writer.levels
    assert levels.left_dbfs == dbfs(mulaw.decode(quiet))
    assert -31.0 < levels.left_dbfs < -29.0
    assert levels.right_dbfs == -90.3
    writer.commit(400)  # nothing new to commit: the levels stay those of the last commit
    assert writer.levels == levels

    writer.place(1, 400, square)
    writer.commit(600)  # two levels asked for at once, from one block
    assert (writer.levels.left_dbfs, writer.levels.right_dbfs) == (-90.3, -0.2)
    writer.close()


# --- IngestRuntime: slots and sliced ticks ---------------------------------------------------


def ingest_config() -> IngestConfig:
    return IngestConfig(
        max_message_bytes=65536,
        start_timeout=3600,
        media_timeout=3600,
        max_call_seconds=3600,
        max_speed_ratio=0,
        speed_window=3600,
        reconnect_grace=3600,
        max_connections=1000,
        shed_lag_ms=0,
        events_hz=0,  # no progress events: nothing here needs a channel layer
        stats_interval=3600,
        tick_seconds=3600,  # the runtime's own ticker stays asleep during the test
        pipeline=PipelineConfig(),
    )


def live_call(tmp_path, index: int) -> LiveCall:
    """A call whose audio is placed but not yet committed: a tick commits it."""
    pipeline = CallPipeline(path=tmp_path / f"call{index}.wav")
    feed = pipeline.open_socket()
    for sequence in range(1, 6):
        for leg in (PARTICIPANT, CONFERENCE):
            pipeline.media(feed, Media(leg, sequence, bytes([index]) * 160), 500.0)
    assert pipeline.writer.committed == 0
    return LiveCall(
        key=(f"call{index}", "1"), call_pk=None, pipeline=pipeline, started_at=500, last_media=500
    )


@pytest.fixture
async def runtime():
    running = IngestRuntime(ingest_config())
    yield running
    await running.shutdown()
    for live in running.registry.live.values():
        live.pipeline.close()


async def test_add_live_gives_slots_round_robin(runtime, tmp_path) -> None:
    calls = [live_call(tmp_path, i) for i in range(2 * TICK_SLICES + 3)]
    for live in calls:
        runtime.registry.add_live(live)
    assert [live.slot for live in calls] == [i % TICK_SLICES for i in range(len(calls))]
    assert runtime.registry.live == {live.key: live for live in calls}


@pytest.mark.parametrize("parts", [TICK_SLICES, 3])
async def test_a_sliced_tick_ticks_only_the_calls_of_its_slice(runtime, tmp_path, parts) -> None:
    calls = [live_call(tmp_path, i) for i in range(2 * TICK_SLICES + 3)]
    for live in calls:
        runtime.registry.add_live(live)
    ticked: set[int] = set()
    for part in range(parts):
        runtime.tick(501.0, part=part, parts=parts)
        ticked |= {i for i, live in enumerate(calls) if live.slot % parts == part}
        committed = {i for i, live in enumerate(calls) if live.pipeline.writer.committed}
        assert committed == ticked, part
        assert all(calls[i].pipeline.writer.committed == 5 * 160 for i in committed)
    assert ticked == set(range(len(calls)))  # every slice ticked once: every call ticked


async def test_an_unsliced_tick_ticks_every_call(runtime, tmp_path) -> None:
    calls = [live_call(tmp_path, i) for i in range(TICK_SLICES + 2)]
    for live in calls:
        runtime.registry.add_live(live)
    runtime.tick(501.0)
    assert all(live.pipeline.writer.committed == 5 * 160 for live in calls)
