"""What the fake hears: it cannot recognise speech, so it finds the voiced regions of each
channel by energy and spreads the words of a script over them; and the WAV it reads."""

from __future__ import annotations

import io
import itertools
import re
import wave
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# What the fake hears: 20 ms frames louder than about -40 dBFS, gaps under 0.3 s bridged.
FRAME_SECONDS = 0.02
VOICED_RMS = 300.0
BRIDGE_SECONDS = 0.3
MIN_REGION_SECONDS = 0.08
WORD_CONFIDENCE = 0.9


@dataclass(frozen=True)
class Heard:
    text: str  # as scripted, with punctuation
    start: float
    end: float


def voiced_regions(samples: np.ndarray, rate: int) -> list[tuple[float, float]]:
    """Stretches of one channel louder than about -40 dBFS, in seconds."""
    frame = max(1, int(rate * FRAME_SECONDS))
    count = len(samples) // frame
    if count == 0:
        return []
    frames = samples[: count * frame].astype(np.float32).reshape(count, frame)
    loud = np.sqrt(np.mean(frames * frames, axis=1)) > VOICED_RMS
    edges = np.flatnonzero(np.diff(np.concatenate(([0], loud.astype(np.int8), [0]))))
    regions: list[list[float]] = []
    for first, last in zip(edges[0::2], edges[1::2], strict=True):
        start, end = first * frame / rate, last * frame / rate
        if regions and start - regions[-1][1] < BRIDGE_SECONDS:
            regions[-1][1] = end
        else:
            regions.append([start, end])
    return [(a, b) for a, b in regions if b - a >= MIN_REGION_SECONDS]


def hear(samples: np.ndarray, rate: int, script: Sequence[str] | None) -> list[list[Heard]]:
    """Words per voiced region: the script's words spread over the regions by duration."""
    regions = voiced_regions(samples, rate)
    if script is None:
        texts_per_region = [[f"word{i}"] for i in range(1, len(regions) + 1)]
    else:
        counts = [0] * len(regions)
        durations = [b - a for a, b in regions]
        total = sum(durations)
        if regions:
            for i in range(len(script)):
                position = (i + 0.5) / len(script) * total
                index, covered = 0, durations[0]
                while position > covered and index + 1 < len(regions):
                    index += 1
                    covered += durations[index]
                counts[index] += 1
        words = iter(script)
        texts_per_region = [list(itertools.islice(words, n)) for n in counts]
    out = []
    for (start, end), texts in zip(regions, texts_per_region, strict=True):
        if not texts:
            continue
        slot = (end - start) / len(texts)
        gap = min(0.05, slot * 0.1)
        heard = []
        for i, text in enumerate(texts):
            word_start = start + i * slot
            word_end = start + (i + 1) * slot - (gap if i + 1 < len(texts) else 0.0)
            heard.append(Heard(text, round(word_start, 3), round(word_end, 3)))
        out.append(heard)
    return out


def bare(text: str) -> str:
    """A word without punctuation (what APIs return when punctuation is off)."""
    return re.sub(r"[^\w'-]+", "", text)


@dataclass
class Audio:
    samples: np.ndarray  # (frames, channels) int16
    rate: int
    container: str  # "wav" or "raw"

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate if self.rate else 0.0

    @property
    def channels(self) -> int:
        return self.samples.shape[1]

    def mono(self) -> np.ndarray:
        if self.channels == 1:
            return self.samples[:, 0]
        return self.samples.astype(np.int32).mean(axis=1).astype(np.int16)


def parse_wav(data: bytes) -> Audio | None:
    """A 16-bit PCM WAV, or None if ``data`` is not one."""
    if not (data.startswith(b"RIFF") and data[8:12] == b"WAVE"):
        return None
    try:
        with wave.open(io.BytesIO(data), "rb") as reader:
            if reader.getsampwidth() != 2:
                return None
            channels, rate = reader.getnchannels(), reader.getframerate()
            raw = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError):
        return None
    samples = np.frombuffer(raw[: len(raw) // (2 * channels) * 2 * channels], dtype="<i2")
    return Audio(samples.reshape(-1, channels).astype(np.int16), rate, "wav")
