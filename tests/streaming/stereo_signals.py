"""Synthetic stereo call recordings: line noise, and a tone per side on known intervals."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from streaming.audio.wav import wav_bytes

RATE = 8000


def stereo(
    seconds: float,
    agent: Sequence[tuple[float, float]] = (),
    caller: Sequence[tuple[float, float]] = (),
    *,
    noise: float = 30.0,
    level: float = 8000.0,
    seed: int = 1,
) -> np.ndarray:
    """(samples, 2) int16: noise on both channels, a 310 Hz tone on the agent's (left)
    intervals and a 470 Hz one on the caller's (right), in seconds."""
    rng = np.random.default_rng(seed)
    count = round(seconds * RATE)
    samples = rng.normal(0.0, noise, size=(count, 2))
    t = np.arange(count) / RATE
    for channel, intervals, hz in ((0, agent, 310.0), (1, caller, 470.0)):
        for start, end in intervals:
            span = slice(round(start * RATE), round(end * RATE))
            samples[span, channel] += level * np.sin(2 * np.pi * hz * t[span])
    return np.clip(np.rint(samples), -32768, 32767).astype(np.int16)


def write_stereo_wav(path: Path, samples: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(wav_bytes(samples))
    return path
