"""The pure audio pipeline: byte fixtures and properties, no Django."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from streaming.audio import mulaw
from streaming.audio.pipeline import CallPipeline, PipelineConfig
from streaming.audio.protocol import CONFERENCE, PARTICIPANT, Media
from streaming.audio.wav import HEADER_BYTES, wav_read_stereo, wav_repair

LEGS = (PARTICIPANT, CONFERENCE)
FRAME = 160


@dataclass
class Scenario:
    frames: dict[str, list[bytes]]  # what each leg sent, in order
    messages: list[Media]  # what arrived, in arrival order
    dropped: set[tuple[str, int]]  # (leg, frame index) never sent


def make_frames(rng: random.Random, count: int) -> dict[str, list[bytes]]:
    return {leg: [rng.randbytes(FRAME) for _ in range(count)] for leg in LEGS}


def build(
    frames: dict[str, list[bytes]],
    *,
    numbering: str,
    dropped: set[tuple[str, int]] = frozenset(),
    base: int = 1,
) -> list[Media]:
    """Messages in sending order: both legs every 20 ms, numbered as RingCX might."""
    messages = []
    counter = base
    for index in range(len(frames[PARTICIPANT])):
        for leg in LEGS:
            sequence = index + base if numbering == "per_perspective" else counter
            counter += 1
            if (leg, index) not in dropped:
                messages.append(Media(leg, sequence, frames[leg][index]))
    return messages


def expected_recording(frames: dict[str, list[bytes]], dropped) -> np.ndarray:
    count = len(frames[PARTICIPANT])
    expected = np.zeros((count * FRAME, 2), dtype=np.int16)
    for channel, leg in enumerate(LEGS):
        for index in range(count):
            if (leg, index) not in dropped:
                expected[index * FRAME : (index + 1) * FRAME, channel] = mulaw.decode(
                    frames[leg][index]
                )
    return expected


def run(
    messages: list[Media],
    path: Path,
    *,
    ticks_every: int = 25,
    duplicates=(),
    step: float = 0.0001,
    **config,
):
    """Feed messages in the given order; by default as fast as a sender can (a burst)."""
    pipeline = CallPipeline(path=path, config=PipelineConfig(**config))
    feed = pipeline.open_socket()
    now = 1_000.0
    duplicate_at = set(duplicates)
    for position, message in enumerate(messages):
        now += step
        pipeline.media(feed, message, now)
        if position in duplicate_at:
            pipeline.media(feed, message, now)
        if position % ticks_every == 0:
            pipeline.tick(now)
    pipeline.stop(feed, None)
    pipeline.stop(feed, None)
    return pipeline.close()


def local_shuffle(items: list, rng: random.Random, depth: int) -> list:
    """A permutation in which no item moves more than ``depth`` places: within the window."""
    keyed = sorted((index + rng.uniform(0, depth), index) for index in range(len(items)))
    return [items[index] for _, index in keyed]


@pytest.mark.parametrize("numbering", ["per_perspective", "per_socket"])
def test_in_order_stream_is_recorded_exactly_in_stereo(tmp_path, numbering: str) -> None:
    frames = make_frames(random.Random(1), 120)
    stats = run(build(frames, numbering=numbering), tmp_path / "a.wav")
    recording = wav_read_stereo(tmp_path / "a.wav")
    assert np.array_equal(recording, expected_recording(frames, set()))
    assert stats["numbering"] == numbering
    for leg in LEGS:
        assert stats["perspectives"][leg]["frames_written"] == 120
        assert stats["perspectives"][leg]["gaps_filled_frames"] == 0
    assert stats["perspectives"][PARTICIPANT]["channel"] == "left"
    assert stats["perspectives"][CONFERENCE]["channel"] == "right"


def test_channels_are_not_mixed_agent_left_caller_right(tmp_path) -> None:
    loud = mulaw.encode(np.full(FRAME, 12000, dtype=np.int16))
    quiet = mulaw.silence(FRAME)
    frames = {PARTICIPANT: [loud] * 10, CONFERENCE: [quiet] * 10}
    run(build(frames, numbering="per_perspective"), tmp_path / "a.wav")
    recording = wav_read_stereo(tmp_path / "a.wav")
    assert np.all(np.abs(recording[:, 0]) > 10000)
    assert np.all(recording[:, 1] == 0)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**32 - 1),
    numbering=st.sampled_from(["per_perspective", "per_socket"]),
    count=st.integers(8, 150),
    depth=st.integers(0, 40),
    drop_rate=st.floats(0, 0.2),
    duplicate_rate=st.floats(0, 0.2),
)
# Found by the search: the caller's first 12 frames overtook every agent frame but the first,
# and the socket's one counter was taken for one counter per leg (a recording twice as long).
@example(
    seed=65970, numbering="per_socket", count=114, depth=33, drop_rate=0.125, duplicate_rate=0.125
)
def test_any_permutation_duplicates_and_gaps_give_the_exact_recording(
    tmp_path_factory, seed, numbering, count, depth, drop_rate, duplicate_rate
) -> None:
    rng = random.Random(seed)
    frames = make_frames(rng, count)
    # never drop a leg's first frame: where a leg starts is then unknowable by definition
    dropped = {
        (leg, index) for leg in LEGS for index in range(1, count) if rng.random() < drop_rate
    }
    messages = local_shuffle(build(frames, numbering=numbering, dropped=dropped), rng, depth)
    duplicates = [i for i in range(len(messages)) if rng.random() < duplicate_rate]
    path = tmp_path_factory.mktemp("prop") / "call.wav"
    stats = run(messages, path, duplicates=duplicates)
    expected = expected_recording(frames, dropped)
    last_sent = {leg: max(i for i in range(count) if (leg, i) not in dropped) for leg in LEGS}
    # trailing frames that were never sent cannot be known: compare up to the last sent
    length = (max(last_sent.values()) + 1) * FRAME
    recording = wav_read_stereo(path)
    assert recording.shape[0] == length
    assert np.array_equal(recording, expected[:length])

    # A lost frame is known (and filled) when a later number of its own counter arrived.
    def order(leg: str, index: int) -> int:
        if numbering == "per_socket":
            return 2 * index + LEGS.index(leg)
        return index

    last_number = {
        leg: max(
            order(name, i)
            for name in LEGS
            for i in range(count)
            if (name, i) not in dropped and (numbering == "per_socket" or name == leg)
        )
        for leg in LEGS
    }
    for leg in LEGS:
        per_leg = stats["perspectives"][leg]
        gaps = sum(1 for (name, i) in dropped if name == leg and order(name, i) < last_number[leg])
        assert per_leg["gaps_filled_frames"] == gaps
        assert per_leg["frames_written"] == count - len([d for d in dropped if d[0] == leg])
        assert per_leg["late_dropped"] == 0
    assert sum(stats["perspectives"][leg]["duplicates"] for leg in LEGS) == len(duplicates)


def test_frames_later_than_the_window_are_dropped_and_counted(tmp_path) -> None:
    frames = make_frames(random.Random(2), 200)
    messages = build(frames, numbering="per_perspective")
    straggler = messages.pop(10)  # Participant frame 5
    messages.insert(10 + 2 * 120, straggler)  # arrives 2.4 s later: past the 1 s window
    stats = run(messages, tmp_path / "a.wav")
    per_leg = stats["perspectives"][PARTICIPANT]
    assert per_leg["late_dropped"] == 1
    assert per_leg["gaps_filled_frames"] == 1
    recording = wav_read_stereo(tmp_path / "a.wav")
    assert np.all(recording[5 * FRAME : 6 * FRAME, 0] == 0)  # filled with silence


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.integers(0, 2**32 - 1),
    count=st.integers(20, 150),
    numbering=st.sampled_from(["per_perspective", "per_socket"]),
)
def test_real_time_stream_with_network_jitter_is_exact(
    tmp_path_factory, seed, count, numbering
) -> None:
    """Sent every 20 ms over one TCP connection, each frame delayed 0-30 ms by the sender and
    the network: neighbouring frames of both legs arrive out of order. Offsets are estimated
    from the least-delayed of a leg's first 32 frames, so this holds unless all 32 were
    delayed by more than half a frame (odds about 1 in 10^5)."""
    rng = random.Random(seed)
    frames = make_frames(rng, count)
    messages = build(frames, numbering=numbering)
    timed = sorted(
        ((index // 2) * 0.02 + rng.uniform(0, 0.03), index, message)
        for index, message in enumerate(messages)
    )
    path = tmp_path_factory.mktemp("jitter") / "call.wav"
    pipeline = CallPipeline(path=path)
    feed = pipeline.open_socket()
    for position, (arrived, _, message) in enumerate(timed):
        pipeline.media(feed, message, 500.0 + arrived)
        if position % 10 == 0:
            pipeline.tick(500.0 + arrived)
    pipeline.stop(feed, None)
    pipeline.stop(feed, None)
    pipeline.close()
    assert np.array_equal(wav_read_stereo(path), expected_recording(frames, set()))


def test_time_window_releases_held_audio_when_the_stream_pauses(tmp_path) -> None:
    frames = make_frames(random.Random(3), 20)
    messages = [m for m in build(frames, numbering="per_perspective") if m.sequence != 5]
    pipeline = CallPipeline(path=tmp_path / "a.wav")
    feed = pipeline.open_socket()
    for message in messages:
        pipeline.media(feed, message, 100.0)
    pipeline.tick(100.5)
    held_before = feed.sequencer.held
    assert held_before > 0  # frames after the gap wait for it
    pipeline.tick(101.1)  # a whole window later: gap filled, frames written
    assert feed.sequencer.held == 0
    assert pipeline.writer.committed == 20 * FRAME
    pipeline.close()


def test_late_starting_leg_is_offset_by_its_arrival_in_whole_frames(tmp_path) -> None:
    rng = random.Random(4)
    frames = make_frames(rng, 100)
    pipeline = CallPipeline(path=tmp_path / "a.wav")
    feed = pipeline.open_socket()
    now = 50.0
    for index in range(100):  # agent alone for 30 frames (0.6 s), then both
        pipeline.media(feed, Media(PARTICIPANT, index + 1, frames[PARTICIPANT][index]), now)
        if index >= 30:
            caller_index = index - 30
            pipeline.media(
                feed,
                Media(CONFERENCE, caller_index + 1, frames[CONFERENCE][caller_index]),
                now + 0.004,  # jitter below half a frame rounds away
            )
        now += 0.02
        pipeline.tick(now)
    pipeline.stop(feed, PARTICIPANT)
    pipeline.stop(feed, CONFERENCE)
    stats = pipeline.close()
    assert stats["perspectives"][CONFERENCE]["offset_frames"] == 30
    recording = wav_read_stereo(tmp_path / "a.wav")
    assert np.all(recording[: 30 * FRAME, 1] == 0)
    assert np.array_equal(
        recording[30 * FRAME : 31 * FRAME, 1], mulaw.decode(frames[CONFERENCE][0])
    )


def test_two_sockets_one_leg_each_make_one_recording(tmp_path) -> None:
    frames = make_frames(random.Random(5), 80)
    pipeline = CallPipeline(path=tmp_path / "a.wav")
    agent_socket, caller_socket = pipeline.open_socket(), pipeline.open_socket()
    now = 10.0
    for index in range(80):
        pipeline.media(agent_socket, Media(PARTICIPANT, index + 1, frames[PARTICIPANT][index]), now)
        pipeline.media(caller_socket, Media(CONFERENCE, index + 1, frames[CONFERENCE][index]), now)
        now += 0.02
    pipeline.stop(agent_socket, None)
    assert not pipeline.all_stopped
    pipeline.stop(caller_socket, None)
    assert pipeline.all_stopped
    pipeline.close()
    assert np.array_equal(wav_read_stereo(tmp_path / "a.wav"), expected_recording(frames, set()))


def test_reconnect_continues_the_same_recording(tmp_path) -> None:
    frames = make_frames(random.Random(6), 100)
    pipeline = CallPipeline(path=tmp_path / "a.wav")
    first = pipeline.open_socket()
    messages = build(frames, numbering="per_perspective")
    now = 0.0
    for position, message in enumerate(messages[:80]):  # 40 frames a leg, then it drops
        pipeline.media(first, message, now + (position // 2) * 0.02)
    pipeline.close_socket(first)
    second = pipeline.open_socket()
    for position, message in enumerate(messages[80 + 10 :]):  # 5 frames a leg lost meanwhile
        pipeline.media(second, message, now + (position // 2 + 45) * 0.02)
    pipeline.stop(second, None)
    pipeline.stop(second, None)
    stats = pipeline.close()
    dropped = {(leg, i) for leg in LEGS for i in range(40, 45)}
    assert np.array_equal(wav_read_stereo(tmp_path / "a.wav"), expected_recording(frames, dropped))
    assert stats["sockets"] == 2
    assert stats["perspectives"][PARTICIPANT]["gaps_filled_frames"] == 5


def test_reconnect_that_restarts_numbering_is_followed(tmp_path) -> None:
    frames = make_frames(random.Random(7), 300)
    pipeline = CallPipeline(path=tmp_path / "a.wav")
    first = pipeline.open_socket()
    now = 0.0
    for index in range(200):
        pipeline.media(first, Media(PARTICIPANT, index + 1, frames[PARTICIPANT][index]), now)
        now += 0.02
    pipeline.close_socket(first)
    second = pipeline.open_socket()
    for index in range(200, 300):  # the new socket numbers from 1 again
        pipeline.media(second, Media(PARTICIPANT, index - 199, frames[PARTICIPANT][index]), now)
        now += 0.02
    pipeline.stop(second, PARTICIPANT)
    stats = pipeline.close()
    recording = wav_read_stereo(tmp_path / "a.wav")
    expected = np.concatenate([mulaw.decode(f) for f in frames[PARTICIPANT]])
    assert np.array_equal(recording[:, 0], expected)
    assert stats["perspectives"][PARTICIPANT]["late_dropped"] == 0


def test_frames_of_unusual_length_are_kept_whole(tmp_path) -> None:
    rng = random.Random(8)
    sizes = [160, 160, 320, 80, 160, 160]
    payloads = [rng.randbytes(n) for n in sizes]
    pipeline = CallPipeline(path=tmp_path / "a.wav")
    feed = pipeline.open_socket()
    for index, payload in enumerate(payloads):
        pipeline.media(feed, Media(PARTICIPANT, index + 1, payload), float(index))
    pipeline.stop(feed, PARTICIPANT)
    pipeline.close()
    recording = wav_read_stereo(tmp_path / "a.wav")
    assert np.array_equal(recording[:, 0], mulaw.decode(b"".join(payloads)))


def test_gap_fill_uses_the_usual_frame_length(tmp_path) -> None:
    rng = random.Random(9)
    pipeline = CallPipeline(path=tmp_path / "a.wav")
    feed = pipeline.open_socket()
    for sequence in [1, 2, 3, 5, 6]:
        pipeline.media(feed, Media(PARTICIPANT, sequence, rng.randbytes(160)), 0.0)
    pipeline.stop(feed, PARTICIPANT)
    stats = pipeline.close()
    assert stats["perspectives"][PARTICIPANT]["gaps_filled_ms"] == 20
    assert wav_read_stereo(tmp_path / "a.wav").shape[0] == 6 * 160  # 1-6, number 4 silent


def test_file_is_playable_while_recording_and_after_a_kill(tmp_path) -> None:
    """The header is valid after every commit: a killed process loses at most a tick."""
    frames = make_frames(random.Random(10), 100)
    path = tmp_path / "a.wav"
    pipeline = CallPipeline(path=path)
    feed = pipeline.open_socket()
    now = 0.0
    for position, message in enumerate(build(frames, numbering="per_perspective")[:120]):
        now = (position // 2) * 0.02  # both legs of a 20 ms frame arrive together
        pipeline.media(feed, message, now)
    pipeline.tick(now)
    # what a reader sees now, without any close: the 60 frames per leg received
    on_disk = wav_read_stereo(path)
    assert np.array_equal(on_disk, expected_recording(frames, set())[: 60 * FRAME])
    # simulate a crash that left a torn final write, then repair
    with path.open("ab") as handle:
        handle.write(b"\x01\x02\x03")
    result = wav_repair(path)
    assert result.truncated_bytes == 3
    assert result.samples == 60 * FRAME
    assert path.stat().st_size == HEADER_BYTES + 60 * FRAME * 4


def test_leg_far_behind_the_other_is_patched_into_place(tmp_path) -> None:
    """A leg that falls more than the ring behind is still written at its position."""
    frames = make_frames(random.Random(11), 400)
    pipeline = CallPipeline(path=tmp_path / "a.wav", config=PipelineConfig(ring_seconds=1.0))
    feed = pipeline.open_socket()
    now = 0.0
    pipeline.media(feed, Media(CONFERENCE, 1, frames[CONFERENCE][0]), now)
    for index in range(400):  # the agent leg runs 8 s ahead
        pipeline.media(feed, Media(PARTICIPANT, index + 1, frames[PARTICIPANT][index]), now)
        pipeline.tick(now)
    for index in range(1, 400):
        pipeline.media(feed, Media(CONFERENCE, index + 1, frames[CONFERENCE][index]), now)
    pipeline.stop(feed, None)
    pipeline.stop(feed, None)
    stats = pipeline.close()
    assert stats["recording"]["patched_samples"] > 0
    assert np.array_equal(wav_read_stereo(tmp_path / "a.wav"), expected_recording(frames, set()))


def test_lag_is_measured_for_frames_that_carry_sent_at(tmp_path) -> None:
    pipeline = CallPipeline(path=tmp_path / "a.wav")
    feed = pipeline.open_socket()
    for index in range(10):
        pipeline.media(
            feed, Media(PARTICIPANT, index + 1, b"\xff" * 160, sent_at=100.0), 100.0 + index * 0.005
        )
    stats = pipeline.close()
    assert stats["lag_ms"]["count"] == 10
    assert stats["lag_ms"]["max"] == 45
    assert stats["lag_ms"]["p50"] in (20, 25)


def test_taps_receive_decoded_audio_and_drop_rather_than_block(tmp_path) -> None:
    pipeline = CallPipeline(path=tmp_path / "a.wav")
    tap = pipeline.subscribe(maxsize=3)
    feed = pipeline.open_socket()
    payload = mulaw.encode(np.full(160, 1000, dtype=np.int16))
    for index in range(5):
        pipeline.media(feed, Media(CONFERENCE, index + 1, payload), 0.0)
    assert len(tap) == 3
    assert tap.dropped == 2
    chunk = tap.poll()
    assert chunk.perspective == CONFERENCE
    assert chunk.start_sample == 0
    assert np.array_equal(chunk.samples, mulaw.decode(payload))
    assert pipeline.close()["taps"]["dropped"] == 2


def test_reconnect_with_per_socket_numbering_continues_exactly(tmp_path) -> None:
    """Regression: the new socket read the shared counter as one leg's and filled false gaps."""
    frames = make_frames(random.Random(12), 120)
    messages = build(frames, numbering="per_socket")
    pipeline = CallPipeline(path=tmp_path / "a.wav")
    first = pipeline.open_socket()
    for position, message in enumerate(messages[:120]):  # 60 frames a leg
        pipeline.media(first, message, (position // 2) * 0.02)
    pipeline.close_socket(first)
    second = pipeline.open_socket()
    for position, message in enumerate(messages[120:]):  # the counter carries on
        pipeline.media(second, message, (position // 2 + 60) * 0.02)
    pipeline.stop(second, None)
    pipeline.stop(second, None)
    stats = pipeline.close()
    assert np.array_equal(wav_read_stereo(tmp_path / "a.wav"), expected_recording(frames, set()))
    assert stats["perspectives"][PARTICIPANT]["gaps_filled_frames"] == 0
    assert stats["perspectives"][CONFERENCE]["gaps_filled_frames"] == 0


def test_per_socket_lost_first_frame_of_a_leg_is_given_to_that_leg(tmp_path) -> None:
    """Regression: when the caller's first frame is lost, the gap was blamed on the agent."""
    frames = make_frames(random.Random(13), 60)
    dropped = {(CONFERENCE, 0)}
    messages = build(frames, numbering="per_socket", dropped=dropped)
    stats = run(messages, tmp_path / "a.wav")
    assert stats["perspectives"][CONFERENCE]["gaps_filled_frames"] == 1
    assert stats["perspectives"][PARTICIPANT]["gaps_filled_frames"] == 0
    assert np.array_equal(wav_read_stereo(tmp_path / "a.wav"), expected_recording(frames, dropped))
