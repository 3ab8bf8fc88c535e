"""What the hosted engines (Google, Deepgram, OpenAI) share.

Hosted APIs take files rather than arrays, cap how much audio one request may carry and
answer failures in their own envelopes. This module builds WAV bytes, cuts long channels at
their quietest moments (so no word is cut in two), turns HTTP failures into the engine
exceptions (retryable or not) and groups timed words into segments. No Django here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Self

import httpx
import numpy as np

from ringadmin.retry import parse_retry_after
from streaming.audio.wav import wav_bytes as pcm_wav_bytes
from streaming.transcription.engines.base import (
    SAMPLE_RATE,
    EngineUnavailable,
    ProgressCallback,
    Segment,
    TranscriptionError,
    Word,
)

WAV_HEADER_BYTES = 44
FRAME_SECONDS = 0.02
QUIET_SMOOTHING_FRAMES = 15  # 300 ms: a cut lands in a pause, not in a gap between syllables
SEGMENT_PAUSE_SECONDS = 0.8
RETRYABLE_STATUSES = frozenset({408, 409, 429})
_SENTENCE_ENDS = (".", "?", "!", "…")
_TRAILING_QUOTES = "\"')]}\u00bb\u201d\u2019"  # closing quotes and brackets


# --- audio -------------------------------------------------------------------------------------


def as_int16(audio: np.ndarray) -> np.ndarray:
    """One channel as a flat ``int16`` array (the interface's contract, enforced cheaply)."""
    samples = np.asarray(audio)
    if samples.dtype != np.int16:
        samples = samples.astype(np.int16)
    return samples.reshape(-1)


def audible(samples: np.ndarray) -> bool:
    """Digital silence is never sent: it costs money and Whisper invents words for it."""
    return bool(samples.size) and bool(np.any(np.abs(samples.astype(np.int32)) > 8))


def stack_channels(*channels: np.ndarray) -> np.ndarray:
    """Channels as one ``(samples, channels)`` array, the shorter padded with silence."""
    arrays = [as_int16(c) for c in channels]
    length = max((len(a) for a in arrays), default=0)
    out = np.zeros((length, len(arrays)), dtype=np.int16)
    for index, array in enumerate(arrays):
        out[: len(array), index] = array
    return out


def wav_bytes(*channels: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """16-bit PCM WAV of one or more channels (interleaved, little-endian)."""
    return pcm_wav_bytes(stack_channels(*channels), rate=sample_rate)


def wav_seconds_for(max_bytes: int, *, channels: int = 1, sample_rate: int = SAMPLE_RATE) -> float:
    """The longest 16-bit WAV that fits in ``max_bytes``."""
    return (max_bytes - WAV_HEADER_BYTES) / (2 * channels * sample_rate)


def _frame_energy(samples: np.ndarray, frame: int) -> np.ndarray:
    """Mean square per frame, summed over channels; computed in blocks to bound memory."""
    frames = len(samples) // frame
    energy = np.empty(frames, dtype=np.float64)
    block = max(1, 1_000_000 // frame)
    for first in range(0, frames, block):
        last = min(frames, first + block)
        chunk = samples[first * frame : last * frame].astype(np.float32)
        chunk = chunk.reshape(last - first, frame, -1)
        energy[first:last] = np.mean(chunk * chunk, axis=(1, 2)) * chunk.shape[2]
    return energy


def split_by_voice_activity(
    samples: np.ndarray, *, max_seconds: float, sample_rate: int = SAMPLE_RATE
) -> list[tuple[int, int]]:
    """Cut audio into pieces of at most ``max_seconds``, each cut at the quietest moment.

    ``samples`` is one channel, or ``(samples, channels)`` to cut all channels at points
    quiet in every one of them. Returns ``(start, end)`` sample indexes covering the audio.
    Each cut lands in the middle of the longest quiet stretch of the second half of the
    allowed length: pieces stay long (fewer requests) and words stay whole.
    """
    total = len(samples)
    max_length = int(max_seconds * sample_rate)
    if max_length <= 0:
        raise ValueError("max_seconds must be positive")
    if total <= max_length:
        return [(0, total)]
    frame = max(1, int(FRAME_SECONDS * sample_rate))
    energy = _frame_energy(samples, frame)
    if len(energy) >= QUIET_SMOOTHING_FRAMES:
        kernel = np.ones(QUIET_SMOOTHING_FRAMES) / QUIET_SMOOTHING_FRAMES
        energy = np.convolve(energy, kernel, mode="same")
    pieces: list[tuple[int, int]] = []
    start = 0
    while total - start > max_length:
        first = (start + max_length // 2 + frame - 1) // frame
        last = (start + max_length) // frame  # frames wholly inside the allowed length
        cut = start + max_length
        if last > first:
            cut = _quietest_point(energy[first:last], offset=first, frame=frame)
        pieces.append((start, cut))
        start = cut
    pieces.append((start, total))
    return pieces


def _quietest_point(energy: np.ndarray, *, offset: int, frame: int) -> int:
    """The sample in the middle of the longest run of near-minimal frames (later on ties)."""
    floor = float(energy.min())
    quiet = energy <= floor * 1.05 + 1e-6
    edges = np.flatnonzero(np.diff(np.concatenate(([0], quiet.astype(np.int8), [0]))))
    starts, ends = edges[0::2], edges[1::2]
    lengths = ends - starts
    best = len(lengths) - 1 - int(np.argmax(lengths[::-1]))
    middle = (starts[best] + ends[best]) // 2
    return (offset + int(middle)) * frame


def report_progress(
    progress: ProgressCallback | None,
    *,
    done: int,
    total: int,
    base: float = 0.0,
    span: float = 1.0,
) -> None:
    if progress is not None and total > 0:
        progress(base + span * min(1.0, done / total))


# --- words and segments ------------------------------------------------------------------------


def ends_sentence(text: str) -> bool:
    return text.rstrip(_TRAILING_QUOTES).endswith(_SENTENCE_ENDS)


def segments_from_words(
    words: Sequence[Word], *, pause: float = SEGMENT_PAUSE_SECONDS
) -> list[Segment]:
    """Group words into segments, splitting at pauses longer than ``pause`` and sentence ends."""
    segments: list[Segment] = []
    current: list[Word] = []
    for word in words:
        if current and word.start - current[-1].end > pause:
            segments.append(segment_of(current))
            current = []
        current.append(word)
        if ends_sentence(word.text):
            segments.append(segment_of(current))
            current = []
    if current:
        segments.append(segment_of(current))
    return segments


def segment_of(words: Sequence[Word], *, text: str | None = None) -> Segment:
    confidences = [w.confidence for w in words if w.confidence is not None]
    return Segment(
        start=words[0].start,
        end=words[-1].end,
        text=text if text is not None else " ".join(w.text for w in words),
        confidence=round(sum(confidences) / len(confidences), 3) if confidences else None,
        words=tuple(words),
    )


def shift_segments(segments: Sequence[Segment], seconds: float) -> list[Segment]:
    """Times of a piece's segments made relative to the whole channel."""
    if not seconds:
        return list(segments)
    return [
        replace(
            s,
            start=round(s.start + seconds, 3),
            end=round(s.end + seconds, 3),
            words=tuple(
                replace(w, start=round(w.start + seconds, 3), end=round(w.end + seconds, 3))
                for w in s.words
            ),
        )
        for s in segments
    ]


# --- HTTP --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiErrorDetail:
    """A vendor's error envelope, read: what to tell the admin, and whether to retry."""

    message: str
    code: str = ""
    retryable: bool | None = None  # None: decided by the HTTP status
    retry_after: float | None = None


ErrorParser = Callable[[httpx.Response, Any], ApiErrorDetail]


class HostedEngine:
    """An engine around one long-lived ``httpx.Client``: ``close()`` or use it in ``with``."""

    _client: httpx.Client

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def response_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def error_for(response: httpx.Response, *, vendor: str, parse: ErrorParser) -> TranscriptionError:
    """The exception for a failed answer: retryable for 408/409/429/5xx unless told otherwise."""
    body = response_json(response)
    detail = parse(response, body) if body is not None else None
    if detail is None or not detail.message:
        snippet = response.text.strip()[:200] or response.reason_phrase
        detail = ApiErrorDetail(message=snippet)
    status = response.status_code
    retryable = detail.retryable
    if retryable is None:
        retryable = status in RETRYABLE_STATUSES or status >= 500
    code = f" {detail.code}" if detail.code else ""
    message = f"{vendor}: HTTP {status}{code}: {detail.message}"
    error_code = detail.code or None
    if retryable:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return EngineUnavailable(
            message,
            retry_after=retry_after or detail.retry_after,
            vendor=vendor,
            status=status,
            error_code=error_code,
        )
    return TranscriptionError(message, vendor=vendor, status=status, error_code=error_code)


@contextmanager
def transport_errors(vendor: str) -> Iterator[None]:
    """Network failures and timeouts are temporary: the same request may work later."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise EngineUnavailable(
            f"{vendor}: timed out ({type(exc).__name__})", vendor=vendor
        ) from exc
    except httpx.TransportError as exc:
        raise EngineUnavailable(f"{vendor}: {type(exc).__name__}: {exc}", vendor=vendor) from exc


def send(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    vendor: str,
    parse_error: ErrorParser,
    **kwargs: Any,
) -> httpx.Response:
    """One request; a failed answer raises the engine exception that fits it."""
    with transport_errors(vendor):
        response = client.request(method, url, **kwargs)
    if response.is_success:
        return response
    raise error_for(response, vendor=vendor, parse=parse_error)


def json_of(response: httpx.Response, *, vendor: str) -> dict[str, Any]:
    body = response_json(response)
    if not isinstance(body, dict):
        raise TranscriptionError(f"{vendor}: the answer is not a JSON object")
    return body


def timeout(*, connect: float, read: float) -> httpx.Timeout:
    return httpx.Timeout(read, connect=connect)


def finite(value: Any, default: float = 0.0) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default
