"""Live endpointing: 16 kHz audio of one channel → utterances, with Silero VAD (pure Python).

Audio arrives in pieces of any length; the VAD scores every 32 ms window with its recurrent
state carried over, so a live stream is segmented exactly as the same audio at once would
be. An utterance ends at the first pause of ``min_silence_ms`` (that is when its final is
decoded), or when it reaches ``max_utterance_s`` (decoded and continued as a new one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

RATE = 16000
WINDOW = 512  # Silero's window at 16 kHz (32 ms)
CONTEXT = 64


@dataclass(frozen=True)
class SegmenterConfig:
    threshold: float = 0.5
    neg_threshold: float = 0.35
    min_speech_ms: int = 200
    min_silence_ms: int = 400
    pad_ms: int = 150
    max_utterance_s: float = 15.0


@dataclass(frozen=True)
class Utterance:
    """Speech from ``start`` to ``end`` (seconds in the stream), with its padded audio."""

    index: int
    start: float
    end: float
    audio: np.ndarray  # float32, 16 kHz
    is_final: bool


class SileroStream:
    """Silero VAD over a stream: one probability per 512-sample window, state kept."""

    def __init__(self) -> None:
        from faster_whisper.vad import get_vad_model

        self._session = get_vad_model().session
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros((1, CONTEXT), dtype=np.float32)

    def __call__(self, window: np.ndarray) -> float:
        batch = np.concatenate([self._context, window.reshape(1, WINDOW)], axis=1)
        out, self._h, self._c = self._session.run(
            None, {"input": batch.astype(np.float32), "h": self._h, "c": self._c}
        )
        self._context = batch[:, -CONTEXT:]
        return float(out.reshape(-1)[0])


class UtteranceSegmenter:
    """Feed 16 kHz float audio; get finished utterances (and the growing one on request)."""

    def __init__(
        self,
        config: SegmenterConfig | None = None,
        *,
        vad: Callable[[np.ndarray], float] | None = None,
        start_seconds: float = 0.0,
    ) -> None:
        self.config = config or SegmenterConfig()
        self._vad = vad or SileroStream()
        self._pending = np.zeros(0, dtype=np.float32)  # less than one window
        self._position = round(start_seconds * RATE)  # samples scored so far
        self._pad = int(self.config.pad_ms * RATE / 1000)
        self._history = np.zeros(0, dtype=np.float32)  # the last pad of audio before speech
        self._speech: list[np.ndarray] = []
        self._speech_start: int | None = None
        self._speech_samples = 0
        self._silence = 0
        self._voiced = 0
        self.index = 0

    @property
    def in_speech(self) -> bool:
        return self._speech_start is not None and self._voiced * WINDOW >= self._min_speech

    @property
    def _min_speech(self) -> int:
        return int(self.config.min_speech_ms * RATE / 1000)

    def feed(self, audio: np.ndarray) -> list[Utterance]:
        out: list[Utterance] = []
        data = np.concatenate([self._pending, audio]) if len(self._pending) else audio
        whole = len(data) // WINDOW * WINDOW
        self._pending = data[whole:].copy()
        for offset in range(0, whole, WINDOW):
            window = data[offset : offset + WINDOW]
            utterance = self._step(window, self._vad(window))
            if utterance is not None:
                out.append(utterance)
        return out

    def _step(self, window: np.ndarray, probability: float) -> Utterance | None:
        config = self.config
        self._position += WINDOW
        if self._speech_start is None:
            if probability >= config.threshold:
                self._speech_start = self._position - WINDOW - len(self._history)
                self._speech = [self._history, window]
                self._speech_samples = len(self._history) + WINDOW
                self._silence, self._voiced = 0, 1
            else:
                self._history = np.concatenate([self._history, window])[-self._pad :]
            return None
        self._speech.append(window)
        self._speech_samples += WINDOW
        if probability >= config.neg_threshold:
            self._silence = 0
            self._voiced += 1
        else:
            self._silence += WINDOW
        if self._silence >= config.min_silence_ms * RATE / 1000:
            return self._close(trailing_silence=self._silence - self._pad)
        if self._speech_samples >= config.max_utterance_s * RATE:
            return self._close(trailing_silence=0, continues=True)
        return None

    def _close(self, *, trailing_silence: int, continues: bool = False) -> Utterance | None:
        audio = np.concatenate(self._speech)
        keep = max(0, len(audio) - max(0, trailing_silence))
        audio = audio[:keep]
        start = self._speech_start
        assert start is not None  # closed only while in speech
        voiced = self._voiced
        self._history = np.zeros(0, dtype=np.float32)
        self._speech, self._speech_start, self._speech_samples = [], None, 0
        self._silence = self._voiced = 0
        if continues:  # a long monologue: go on with a new utterance at once
            self._speech_start = self._position
            self._speech, self._voiced = [np.zeros(0, dtype=np.float32)], 1
        if voiced * WINDOW < self._min_speech:
            return None  # a click or a cough: not speech
        self.index += 1
        return Utterance(
            index=self.index,
            start=start / RATE,
            end=(start + len(audio)) / RATE,
            audio=audio,
            is_final=True,
        )

    def current(self) -> Utterance | None:
        """The utterance still being spoken, for a partial result."""
        if not self.in_speech:
            return None
        assert self._speech_start is not None  # in speech
        audio = np.concatenate(self._speech)
        return Utterance(
            index=self.index + 1,
            start=self._speech_start / RATE,
            end=(self._speech_start + len(audio)) / RATE,
            audio=audio,
            is_final=False,
        )

    def finish(self) -> list[Utterance]:
        """The stream ended: whatever speech is open becomes a final."""
        if self._speech_start is None:
            return []
        utterance = self._close(trailing_silence=self._silence - self._pad)
        return [utterance] if utterance is not None else []
