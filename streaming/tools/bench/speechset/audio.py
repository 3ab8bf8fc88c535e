"""Audio for the speech sets: decoding files, band-limited resampling, the telephone's G.711
round trip, and where the speech in a recording starts and ends."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import numpy as np

from streaming.audio import mulaw

from .common import SAMPLE_RATE, SpeechSetError


def load_audio(path: str | Path, *, raw_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Decode a file to mono ``int16`` at its own rate: ``(samples, rate)``.

    ``raw_rate`` marks a headerless little-endian 16-bit mono file. Other files are decoded
    with PyAV when it is installed (any format FFmpeg reads), else with the stdlib ``wave``
    (PCM WAV only). Channels are averaged.
    """
    path = Path(path)
    if raw_rate is not None:
        return np.frombuffer(path.read_bytes(), dtype="<i2").copy(), raw_rate
    try:
        import av  # optional (installed with faster-whisper)
    except ImportError:
        return _load_wave(path)
    return _load_av(av, path)


def _load_av(av: Any, path: Path) -> tuple[np.ndarray, int]:
    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            rate = stream.codec_context.sample_rate
            resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
            chunks: list[np.ndarray] = []
            for frame in container.decode(stream):
                chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
            chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    except (av.FFmpegError, IndexError) as exc:
        raise SpeechSetError(f"cannot decode {path}: {exc}") from exc
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    return samples.astype(np.int16), int(rate)


def _load_wave(path: Path) -> tuple[np.ndarray, int]:
    try:
        with wave.open(str(path), "rb") as reader:
            channels, width, rate = (
                reader.getnchannels(),
                reader.getsampwidth(),
                reader.getframerate(),
            )
            raw = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError) as exc:
        raise SpeechSetError(f"cannot read {path} without PyAV: {exc}") from exc
    if width == 2:
        pcm = np.frombuffer(raw, "<i2").astype(np.float64)
    elif width == 1:
        pcm = (np.frombuffer(raw, np.uint8).astype(np.float64) - 128) * 256
    else:
        raise SpeechSetError(f"{path}: {8 * width}-bit WAV needs PyAV (pip install av)")
    mono = pcm.reshape(-1, channels).mean(axis=1)
    return np.clip(np.round(mono), -32768, 32767).astype(np.int16), rate


def resample(samples: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Band-limited resampling of ``int16`` audio (Kaiser-windowed sinc, 16 zero crossings).

    Downsampling filters at 94 % of the new Nyquist frequency (3.76 kHz for 8 kHz), so
    nothing folds back into the telephone band. Output sample ``n`` is at ``n / target`` s.
    """
    samples = np.asarray(samples)
    if rate == target or len(samples) == 0:
        return samples.astype(np.int16)
    x = samples.astype(np.float64)
    step = rate / target  # input samples per output sample
    cutoff = 0.47 * min(rate, target) / rate  # cycles per input sample
    half = int(np.ceil(16 / (2 * cutoff)))  # taps each side: 16 zero crossings
    count = int(np.floor(len(x) / step))
    padded = np.concatenate([np.zeros(half), x, np.zeros(half + 1)])
    out = np.empty(count)
    offsets = np.arange(-half + 1, half + 1)
    beta = 8.0
    for first in range(0, count, 2048):
        positions = np.arange(first, min(count, first + 2048)) * step
        base = np.floor(positions).astype(np.int64)
        index = base[:, None] + offsets[None, :]
        distance = positions[:, None] - index
        ratio = np.clip(distance / half, -1.0, 1.0)
        window = np.i0(beta * np.sqrt(1.0 - ratio**2)) / np.i0(beta)  # Kaiser, continuous
        weights = 2 * cutoff * np.sinc(2 * cutoff * distance) * window
        out[first : first + len(positions)] = (padded[index + half] * weights).sum(axis=1)
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)


def through_mulaw(samples: np.ndarray) -> np.ndarray:
    """What a G.711 mu-law phone leg does to 8 kHz ``int16`` audio (encode, then decode)."""
    return mulaw.decode(mulaw.encode(samples)).copy()


def speech_bounds(
    samples: np.ndarray,
    rate: int = SAMPLE_RATE,
    *,
    below_peak_db: float = 35.0,
    above_floor_db: float = 12.0,
) -> tuple[float, float]:
    """Start and end of the audible part, in seconds: the first and last 10 ms frame louder
    than ``below_peak_db`` under the loudest frame, ``above_floor_db`` over the noise floor
    (the 10th percentile frame; capped at 20 dB under the peak) and -60 dBFS."""
    frame = max(1, rate // 100)
    count = len(samples) // frame
    if count == 0:
        return 0.0, 0.0
    frames = samples[: count * frame].astype(np.float64).reshape(count, frame) / 32768.0
    level = 10 * np.log10((frames**2).mean(axis=1) + 1e-12)  # dBFS per frame
    peak, floor = level.max(), np.percentile(level, 10)
    threshold = max(peak - below_peak_db, min(floor + above_floor_db, peak - 20.0), -60.0)
    loud = np.flatnonzero(level >= threshold)
    if len(loud) == 0:
        return 0.0, 0.0
    return float(loud[0] * frame / rate), float((loud[-1] + 1) * frame / rate)
