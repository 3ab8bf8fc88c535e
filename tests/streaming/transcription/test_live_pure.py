"""Pure parts of transcription: resampling, endpointing, turns, the worker wire format."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from streaming.transcription import live_protocol as wire
from streaming.transcription.engines.base import Segment, StereoResult, Word
from streaming.transcription.resample import Upsampler2x, upsample_to_16k
from streaming.transcription.segmenter import WINDOW, SegmenterConfig, UtteranceSegmenter
from streaming.transcription.turns import merge_turns


def test_upsampling_keeps_time_and_tone() -> None:
    """A sample at 8 kHz index i lands at 16 kHz index 2i: word times depend on it."""
    t8 = np.arange(8000) / 8000
    tone = (np.sin(2 * np.pi * 440 * t8) * 10000).astype(np.int16)
    out = upsample_to_16k(tone)
    assert len(out) == 16000
    expected = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000) * 10000 / 32768
    assert np.max(np.abs(out[200:-200] - expected[200:-200])) < 1e-3


def test_upsampling_removes_the_mirror_image() -> None:
    t8 = np.arange(8000) / 8000
    tone = (np.sin(2 * np.pi * 3000 * t8) * 10000).astype(np.int16)
    spectrum = np.abs(np.fft.rfft(upsample_to_16k(tone) * np.hanning(16000)))
    freqs = np.fft.rfftfreq(16000, 1 / 16000)
    image = spectrum[np.argmin(np.abs(freqs - 5000))]
    assert 20 * np.log10(image / spectrum.max()) < -50


def test_chunked_upsampling_equals_whole() -> None:
    rng = np.random.default_rng(1)
    audio = rng.integers(-20000, 20000, 4000).astype(np.int16)
    upsampler = Upsampler2x()
    pieces = [upsampler.process(audio[i : i + 160]) for i in range(0, 4000, 160)]
    pieces.append(upsampler.process(np.zeros(64, dtype=np.int16)))
    assert np.array_equal(np.concatenate(pieces)[:8000], upsample_to_16k(audio))


def energy_vad(window: np.ndarray) -> float:
    """A stand-in for Silero: loud windows are speech."""
    return 1.0 if float(np.sqrt(np.mean(window**2))) > 0.05 else 0.0


def speech_pattern(spans: list[tuple[float, float]], total: float) -> np.ndarray:
    audio = np.zeros(int(total * 16000), dtype=np.float32)
    for start, end in spans:
        t = np.arange(int(start * 16000), min(len(audio), int(end * 16000)))
        audio[t] = 0.3 * np.sin(2 * np.pi * 300 * t / 16000)
    return audio


@pytest.mark.parametrize("chunk", [160, 512, 3200])
def test_segmenter_ends_an_utterance_at_each_pause(chunk: int) -> None:
    audio = speech_pattern([(1.0, 2.5), (2.7, 3.0), (4.0, 5.0)], 6.0)
    segmenter = UtteranceSegmenter(SegmenterConfig(min_silence_ms=450), vad=energy_vad)
    out = []
    for i in range(0, len(audio), chunk):
        out += segmenter.feed(audio[i : i + chunk])
    out += segmenter.finish()
    # the 0.2 s pause does not end the first utterance; the 1 s pause does
    assert [u.index for u in out] == [1, 2]
    assert out[0].start == pytest.approx(1.0 - 0.15, abs=0.04)
    assert out[0].end == pytest.approx(3.0 + 0.15, abs=0.05)
    assert out[1].start == pytest.approx(4.0 - 0.15, abs=0.04)
    assert len(out[0].audio) == pytest.approx((out[0].end - out[0].start) * 16000, abs=2)


def test_segmenter_offsets_by_the_stream_start_and_drops_clicks() -> None:
    audio = speech_pattern([(0.2, 0.25), (1.0, 2.0)], 3.0)  # a 50 ms click, then speech
    segmenter = UtteranceSegmenter(vad=energy_vad, start_seconds=10.0)
    out = segmenter.feed(audio) + segmenter.finish()
    assert len(out) == 1
    assert out[0].start == pytest.approx(10.85, abs=0.04)


def test_segmenter_cuts_a_monologue_at_the_maximum_and_goes_on() -> None:
    audio = speech_pattern([(0.0, 7.0)], 8.0)
    segmenter = UtteranceSegmenter(SegmenterConfig(max_utterance_s=3.0), vad=energy_vad)
    out = segmenter.feed(audio) + segmenter.finish()
    assert len(out) == 3
    assert all(u.end - u.start <= 3.0 + WINDOW / 16000 for u in out)
    assert out[1].start == pytest.approx(out[0].end, abs=0.05)


def test_partial_is_the_growing_utterance() -> None:
    audio = speech_pattern([(0.5, 3.0)], 2.0)
    segmenter = UtteranceSegmenter(vad=energy_vad)
    segmenter.feed(audio)
    current = segmenter.current()
    assert current is not None
    assert not current.is_final
    assert current.index == 1
    assert current.end == pytest.approx(2.0, abs=0.04)


def seg(start: float, end: float, text: str) -> Segment:
    return Segment(start, end, text, 0.9, (Word(start, end, text.split()[0], 0.9),))


def test_turns_interleave_speakers_and_join_a_speakers_close_segments() -> None:
    result = StereoResult(
        agent=[seg(0.0, 2.0, "hello there"), seg(2.5, 3.0, "how are you"), seg(9, 10, "ok")],
        caller=[seg(4.0, 6.0, "fine thanks"), seg(12.0, 13.0, "bye")],
    )
    turns = merge_turns(result)
    assert [(t.speaker, t.segment.text) for t in turns] == [
        ("agent", "hello there how are you"),
        ("caller", "fine thanks"),
        ("agent", "ok"),
        ("caller", "bye"),
    ]
    assert turns[0].segment.end == 3.0
    assert len(turns[0].segment.words) == 2


async def test_wire_format_round_trip() -> None:
    reader = asyncio.StreamReader()
    samples = np.arange(-5, 5, dtype=np.int16)
    reader.feed_data(wire.encode_json(wire.OPEN, {"stream": 7, "speaker": "agent"}))
    reader.feed_data(wire.encode_audio(7, 123456, samples))
    reader.feed_data(wire.encode_end(7))
    reader.feed_eof()
    kind, body = await wire.read_message(reader)
    assert (kind, wire.decode_json(body)) == (wire.OPEN, {"stream": 7, "speaker": "agent"})
    kind, body = await wire.read_message(reader)
    stream, start, got = wire.decode_audio(body)
    assert (kind, stream, start) == (wire.AUDIO, 7, 123456)
    assert np.array_equal(got, samples)
    kind, body = await wire.read_message(reader)
    assert (kind, wire.decode_end(body)) == (wire.END, 7)
    assert await wire.read_message(reader) is None


async def test_wire_format_refuses_garbage() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(b"\x00\x00\x00\x05\x09hello")
    reader.feed_eof()
    with pytest.raises(wire.ProtocolError):
        await wire.read_message(reader)


def test_segments_are_cut_where_words_pause_so_the_other_speaker_fits_between() -> None:
    words = (Word(7.1, 7.5, "hi"), Word(7.6, 8.0, "sarah"), Word(17.1, 17.4, "sure"))
    caller = Segment(7.1, 17.4, "hi sarah sure", 0.8, words)
    agent = Segment(12.2, 15.0, "could i start", 0.9, (Word(12.2, 15.0, "could"),))
    turns = merge_turns(StereoResult(agent=[agent], caller=[caller]))
    assert [(t.speaker, t.segment.text) for t in turns] == [
        ("caller", "hi sarah"),
        ("agent", "could i start"),
        ("caller", "sure"),
    ]
    assert turns[2].segment.start == 17.1


def test_benchmark_calls_start_in_pauses_where_nobody_speaks() -> None:
    from streaming.tools.bench.live_transcription import quiet_points

    left = np.zeros(8000 * 6, dtype=np.int16)
    right = np.zeros(8000 * 6, dtype=np.int16)
    left[8000 : 8000 * 2] = 5000  # agent speaks 1-2 s
    right[8000 * 3 : 8000 * 4] = 5000  # caller speaks 3-4 s
    points = [p / 8000 for p in quiet_points(left, right)]
    assert len(points) == 3
    assert points[1] == pytest.approx(2.5, abs=0.3)  # between the two turns
    assert all(not (1 <= p < 2 or 3 <= p < 4) for p in points)
