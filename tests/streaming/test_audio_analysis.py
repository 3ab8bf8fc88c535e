"""Conversation analytics and waveform peaks from synthetic stereo recordings with known talk."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streaming.audio import analysis
from streaming.audio.analysis import (
    MAX_PEAK_BUCKETS,
    Peaks,
    WavFormatError,
    analyse_stream,
    analyse_wav,
    conversation_stats,
    peak_bucket_samples,
)
from streaming.audio.wav import wav_bytes
from tests.streaming.stereo_signals import RATE, stereo

FRAME = 0.02
TOLERANCE = 2 * FRAME  # a boundary may land one frame either side


def analyse(samples: np.ndarray, tmp_path: Path) -> analysis.RecordingAnalysis:
    path = tmp_path / "call.wav"
    path.write_bytes(wav_bytes(samples))
    return analyse_wav(path)


def test_separate_turns_talk_and_silence(tmp_path: Path) -> None:
    stats = analyse(stereo(10, agent=[(1, 4)], caller=[(5, 7)]), tmp_path).stats
    assert stats.audio_seconds == pytest.approx(10.0)
    assert stats.agent_talk_seconds == pytest.approx(3.0, abs=TOLERANCE)
    assert stats.caller_talk_seconds == pytest.approx(2.0, abs=TOLERANCE)
    assert stats.overtalk_seconds == 0
    assert stats.silence_seconds == pytest.approx(5.0, abs=2 * TOLERANCE)
    assert stats.longest_monologue_speaker == "agent"
    assert stats.longest_monologue_seconds == pytest.approx(3.0, abs=TOLERANCE)
    assert (stats.agent_interruptions, stats.caller_interruptions) == (0, 0)


def test_caller_taking_the_floor_is_an_interruption_and_overtalk(tmp_path: Path) -> None:
    stats = analyse(stereo(8, agent=[(0.5, 4)], caller=[(3, 6)]), tmp_path).stats
    assert stats.overtalk_seconds == pytest.approx(1.0, abs=TOLERANCE)
    assert stats.caller_interruptions == 1
    assert stats.agent_interruptions == 0


def test_talking_over_someone_who_carries_on_is_not_an_interruption(tmp_path: Path) -> None:
    stats = analyse(stereo(10, agent=[(0.5, 8.5)], caller=[(2, 3.5)]), tmp_path).stats
    assert stats.overtalk_seconds == pytest.approx(1.5, abs=TOLERANCE)
    assert (stats.agent_interruptions, stats.caller_interruptions) == (0, 0)


def test_monologue_spans_short_pauses_and_backchannels(tmp_path: Path) -> None:
    samples = stereo(14, agent=[(0.5, 2.5), (3, 4.5), (5.5, 7.5)], caller=[(3.5, 3.9), (9, 12)])
    stats = analyse(samples, tmp_path).stats
    assert stats.longest_monologue_speaker == "agent"
    assert stats.longest_monologue_seconds == pytest.approx(7.0, abs=TOLERANCE)
    assert stats.overtalk_seconds == pytest.approx(0.4, abs=TOLERANCE)


def test_a_turn_of_the_other_side_ends_the_monologue(tmp_path: Path) -> None:
    samples = stereo(10, agent=[(0.5, 3.5), (5.5, 8)], caller=[(4, 5.2)])
    stats = analyse(samples, tmp_path).stats
    assert stats.longest_monologue_speaker == "agent"
    assert stats.longest_monologue_seconds == pytest.approx(3.0, abs=TOLERANCE)


def test_pauses_shorter_than_the_hangover_are_talk_and_clicks_are_not(tmp_path: Path) -> None:
    words = [(1.0 + 0.4 * i, 1.3 + 0.4 * i) for i in range(5)]  # 100 ms between words
    stats = analyse(stereo(4, agent=words, caller=[(3.0, 3.01)]), tmp_path).stats
    assert stats.agent_talk_seconds == pytest.approx(1.9, abs=TOLERANCE)
    assert stats.caller_talk_seconds == 0


def test_the_noise_floor_adapts_to_a_noisy_line(tmp_path: Path) -> None:
    samples = stereo(12, agent=[(6, 9)], caller=[(2, 4)], noise=300.0, level=12000.0)
    stats = analyse(samples, tmp_path).stats
    assert stats.agent_talk_seconds == pytest.approx(3.0, abs=TOLERANCE)
    assert stats.caller_talk_seconds == pytest.approx(2.0, abs=TOLERANCE)


def test_digital_silence_is_silence(tmp_path: Path) -> None:
    samples = np.zeros((RATE * 3, 2), dtype=np.int16)
    result = analyse(samples, tmp_path)
    assert result.stats.silence_seconds == pytest.approx(3.0)
    assert result.stats.longest_monologue_speaker == ""
    assert result.peaks.scale == 1


def test_block_boundaries_do_not_change_the_result(tmp_path: Path, monkeypatch) -> None:
    samples = stereo(20, agent=[(0.3, 4.1), (9, 13.7)], caller=[(3.3, 8.2), (15, 19)])
    whole = analyse(samples, tmp_path)
    monkeypatch.setattr(analysis, "BLOCK_FRAMES", 7)  # 140 ms reads
    pieces = analyse(samples, tmp_path)
    assert pieces.stats == whole.stats
    assert pieces.peaks.to_bytes() == whole.peaks.to_bytes()


def test_peaks_follow_each_channel(tmp_path: Path) -> None:
    result = analyse(stereo(4, agent=[(1, 2)], noise=0.0), tmp_path)
    peaks = result.peaks
    assert peaks.buckets == 4 * analysis.PEAKS_PER_SECOND
    assert peaks.scale == pytest.approx(8000, abs=2)
    per_second = analysis.PEAKS_PER_SECOND
    loud = peaks.data[per_second + 1 : 2 * per_second - 1, 0]
    assert (loud[:, 1] >= 125).all()
    assert (loud[:, 0] <= -125).all()
    assert not peaks.data[:, 1].any()  # the caller's side is silent
    assert not peaks.data[: per_second - 1, 0].any()
    again = Peaks.from_bytes(peaks.to_bytes())
    assert again.to_bytes() == peaks.to_bytes()
    assert len(peaks.to_bytes()) == 32 + peaks.buckets * 4
    assert peaks.channel_pairs(0)[2 * (per_second + 5) + 1] >= 125


def test_a_long_call_has_at_most_the_bucket_cap() -> None:
    two_hours = 2 * 3600 * RATE
    per_bucket = peak_bucket_samples(two_hours, RATE)
    assert -(-two_hours // per_bucket) <= MAX_PEAK_BUCKETS
    assert peak_bucket_samples(RATE * 10, RATE) == RATE // analysis.PEAKS_PER_SECOND


def wav_with_header(data: bytes, *, declared: int | None, channels: int = 2, bits: int = 16):
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(data),
        b"WAVE",
        b"fmt ",
        16,
        1,
        channels,
        RATE,
        RATE * channels * bits // 8,
        channels * bits // 8,
        bits,
        b"data",
        len(data) if declared is None else declared,
    )
    return header + data


@pytest.mark.parametrize("declared", [0, 0xFFFFFFFF, 10**9])
def test_a_truncated_or_unfinished_file_is_analysed_to_its_end(declared: int) -> None:
    data = stereo(3, agent=[(1, 2)]).tobytes() + b"\x01"  # and a stray byte
    blob = wav_with_header(data, declared=declared)
    result = analyse_stream(io.BytesIO(blob), len(blob))
    assert result.stats.audio_seconds == pytest.approx(3.0)
    assert result.stats.agent_talk_seconds == pytest.approx(1.0, abs=TOLERANCE)


def test_the_declared_size_is_trusted_when_the_file_has_more() -> None:
    data = stereo(3).tobytes()
    blob = wav_with_header(data, declared=RATE * 4)  # one second of 4-byte frames
    assert analyse_stream(io.BytesIO(blob), len(blob)).stats.audio_seconds == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"", "not a RIFF"),
        (b"RIFX" + b"\0" * 40, "not a RIFF"),
        (wav_with_header(b"\0" * 400, declared=None, channels=1), "1 channel"),
        (wav_with_header(b"\0" * 400, declared=None, bits=8), "not 16-bit"),
        (b"RIFF\0\0\0\0WAVEdata\4\0\0\0\0\0\0\0", "before the format"),
        (b"RIFF\0\0\0\0WAVE", "no data chunk"),
    ],
)
def test_files_that_are_not_stereo_pcm16_are_refused(blob: bytes, message: str) -> None:
    with pytest.raises(WavFormatError, match=message):
        analyse_stream(io.BytesIO(blob), len(blob))


def check_identities(stats: analysis.ConversationStats) -> None:
    eps = 1e-9
    assert stats.silence_seconds >= -eps
    assert 0 <= stats.overtalk_seconds <= min(stats.agent_talk_seconds, stats.caller_talk_seconds)
    assert stats.agent_talk_seconds <= stats.audio_seconds + eps
    assert stats.caller_talk_seconds <= stats.audio_seconds + eps
    total = (
        stats.agent_talk_seconds
        + stats.caller_talk_seconds
        - stats.overtalk_seconds
        + stats.silence_seconds
    )
    assert total == pytest.approx(stats.audio_seconds, abs=1e-6)
    assert 0 <= stats.longest_monologue_seconds <= stats.audio_seconds + eps
    assert (stats.longest_monologue_speaker == "") == (stats.longest_monologue_seconds == 0)


@st.composite
def runs(draw, frames: int) -> list[tuple[int, int]]:
    edges = sorted(set(draw(st.lists(st.integers(0, frames), max_size=30))))
    return [(a, b) for a, b in zip(edges[::2], edges[1::2], strict=False) if b > a]


@settings(max_examples=300, deadline=None)
@given(data=st.data(), frames=st.integers(0, 3000))
def test_identities_hold_for_any_runs(data, frames: int) -> None:
    agent = data.draw(runs(frames))
    caller = data.draw(runs(frames))
    stats = conversation_stats(agent, caller, frame_seconds=FRAME, audio_seconds=frames * FRAME)
    check_identities(stats)
    assert stats.agent_interruptions <= len(agent)
    assert stats.caller_interruptions <= len(caller)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    samples=st.lists(st.integers(-32768, 32767), max_size=6000),
    loud=st.integers(0, 3),
    cut=st.integers(0, 64),
)
def test_any_short_or_cut_recording_is_analysed_consistently(samples, loud, cut) -> None:
    values = np.array(samples, dtype=np.int16)
    if loud and values.size:
        values[:: loud + 1] = 0  # mixes of silence and arbitrary signal
    values = values[: values.size // 2 * 2].reshape(-1, 2)
    blob = wav_bytes(values)
    blob = blob[: max(len(blob) - cut, 0)]
    try:
        result = analyse_stream(io.BytesIO(blob), len(blob))
    except WavFormatError:
        assert len(blob) < 44  # only a cut header is refused
        return
    check_identities(result.stats)
    assert result.peaks.total_samples * 4 <= max(len(blob) - 44, 0)
    assert Peaks.from_bytes(result.peaks.to_bytes()).buckets == result.peaks.buckets


@settings(max_examples=300, deadline=None)
@given(blob=st.binary(max_size=300))
def test_arbitrary_bytes_are_refused_cleanly_or_analysed(blob: bytes) -> None:
    for candidate in (blob, b"RIFF\0\0\0\0WAVE" + blob):
        try:
            result = analyse_stream(io.BytesIO(candidate), len(candidate))
        except WavFormatError:
            continue
        check_identities(result.stats)
