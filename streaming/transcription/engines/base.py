"""The engine interface: batch (one channel of audio → segments) and live (chunks → results).

Every engine takes one channel of 16-bit PCM at 8 kHz (what the recordings hold; telephony
audio has nothing above 4 kHz) as a NumPy ``int16`` array, and returns segments with word
times in seconds from the start of that audio. Engines are plain Python: no Django, so they
are tested with audio fixtures and local fake servers, and reused by the post-call task, the
live workers and the benchmark. Their errors are ``ringadmin.vendors.errors``' (pure too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

# The engines' errors are the speech members of the one vendor error family (one retry
# classification, one Retry-After); the engines and their callers know them by these names.
from ringadmin.vendors.errors import EngineNotConfigured as EngineNotConfigured
from ringadmin.vendors.errors import EngineUnavailable as EngineUnavailable
from ringadmin.vendors.errors import TranscriptionError as TranscriptionError

SAMPLE_RATE = 8000

ProgressCallback = Callable[[float], None]  # fraction done, 0.0 … 1.0


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str
    confidence: float | None = None


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    confidence: float | None = None
    words: tuple[Word, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["words"] = [asdict(w) for w in self.words]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Segment:
        return cls(
            start=float(data["start"]),
            end=float(data["end"]),
            text=str(data["text"]),
            confidence=data.get("confidence"),
            words=tuple(Word(**w) for w in data.get("words") or ()),
        )


@dataclass(frozen=True)
class EngineInfo:
    """Who produced a transcript: the key of its idempotency (one per call, engine, model)."""

    engine: str
    model: str


@runtime_checkable
class BatchEngine(Protocol):
    info: EngineInfo

    def transcribe(
        self, audio: np.ndarray, *, progress: ProgressCallback | None = None
    ) -> list[Segment]:
        """Transcribe one channel (``int16`` at 8 kHz)."""


@dataclass
class StereoResult:
    """A recording's two channels, transcribed: agent (left) and caller (right)."""

    agent: list[Segment] = field(default_factory=list)
    caller: list[Segment] = field(default_factory=list)


@runtime_checkable
class StereoEngine(Protocol):
    """An engine that transcribes both channels in one request (cheaper for hosted APIs)."""

    info: EngineInfo

    def transcribe_stereo(
        self, left: np.ndarray, right: np.ndarray, *, progress: ProgressCallback | None = None
    ) -> StereoResult: ...


def transcribe_stereo(
    engine: BatchEngine | StereoEngine,
    left: np.ndarray,
    right: np.ndarray,
    *,
    progress: ProgressCallback | None = None,
) -> StereoResult:
    """Both channels with any engine: in one request where the engine can, else one by one."""
    if isinstance(engine, StereoEngine):  # (the protocol check includes transcribe_stereo)
        return engine.transcribe_stereo(left, right, progress=progress)
    total = max(1, len(left) + len(right))

    def part(offset: int, length: int) -> ProgressCallback | None:
        if progress is None:
            return None
        return lambda fraction: progress((offset + fraction * length) / total)

    agent = engine.transcribe(left, progress=part(0, len(left))) if _has_audio(left) else []
    caller = (
        engine.transcribe(right, progress=part(len(left), len(right))) if _has_audio(right) else []
    )
    if progress is not None:
        progress(1.0)
    return StereoResult(agent=agent, caller=caller)


def _has_audio(samples: np.ndarray) -> bool:
    """Pure digital silence (a leg that never spoke, or was never streamed) is not sent."""
    return bool(len(samples)) and bool(np.any(np.abs(samples.astype(np.int32)) > 8))


# --- live --------------------------------------------------------------------------------------


@runtime_checkable
class UtteranceEngine(Protocol):
    """Live use. A live worker segments each channel by voice activity itself
    (:mod:`streaming.transcription.segmenter`) and asks the engine for one utterance at a time:
    the final when its speaker pauses, partials of the growing utterance while they speak."""

    info: EngineInfo

    def transcribe_utterance(self, audio_16k: np.ndarray) -> list[Segment]:
        """One utterance, ``float32`` at 16 kHz; times from its start."""
