"""OpenAI transcription (``whisper-1``): ``POST /v1/audio/transcriptions`` per channel.

The API takes one file of at most 25 MB, so a channel whose WAV would be larger is cut at
quiet moments into pieces that fit, and their times are shifted back. ``verbose_json`` with
word and segment timestamps gives segments (with ``avg_logprob``) and, separately, timed
words; each word goes to the segment its middle falls in.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from streaming.transcription.engines.base import (
    SAMPLE_RATE,
    EngineInfo,
    EngineNotConfigured,
    ProgressCallback,
    Segment,
    Word,
)
from streaming.transcription.engines.hosted import (
    ApiErrorDetail,
    HostedEngine,
    as_int16,
    audible,
    finite,
    json_of,
    report_progress,
    segments_from_words,
    send,
    shift_segments,
    split_by_voice_activity,
    timeout,
    wav_bytes,
    wav_seconds_for,
)

VENDOR = "OpenAI"
MAX_FILE_BYTES = 25 * 1024 * 1024  # the API's limit on the whole request
MULTIPART_ALLOWANCE = 64 * 1024  # form fields and part headers around the file
MIN_SECONDS = 0.1  # the API refuses shorter audio


@dataclass(frozen=True)
class OpenAIConfig:
    api_key: str = field(default="", repr=False)
    model: str = "whisper-1"  # word timestamps need whisper-1 (verbose_json)
    language: str = "en"  # ISO-639-1; empty: detected per file
    prompt: str = ""  # vocabulary hints: product names, agent greeting
    organization: str = ""
    base_url: str = "https://api.openai.com"
    max_file_bytes: int = MAX_FILE_BYTES - MULTIPART_ALLOWANCE
    connect_timeout: float = 10.0
    timeout: float = 600.0


def _openai_error(response: httpx.Response, body: Any) -> ApiErrorDetail:
    """``{"error": {"message", "type", "param", "code"}}``; an exhausted quota is permanent."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return ApiErrorDetail(message="")
    code = str(error.get("code") or error.get("type") or "")
    retryable = False if error.get("code") == "insufficient_quota" else None
    return ApiErrorDetail(message=str(error.get("message") or ""), code=code, retryable=retryable)


def segments_from_verbose(body: dict[str, Any]) -> list[Segment]:
    """``verbose_json`` segments, each with the words whose middle falls inside it."""
    words = [
        Word(
            start=round(finite(w.get("start")), 3),
            end=round(finite(w.get("end")), 3),
            text=str(w.get("word") or "").strip(),
        )
        for w in body.get("words") or ()
        if str(w.get("word") or "").strip()
    ]
    raw_segments = sorted(
        (s for s in body.get("segments") or () if str(s.get("text") or "").strip()),
        key=lambda s: finite(s.get("start")),
    )
    if not raw_segments:
        return segments_from_words(words)
    starts = [finite(s.get("start")) for s in raw_segments]
    ends = [finite(s.get("end")) for s in raw_segments]
    assigned: list[list[Word]] = [[] for _ in raw_segments]
    for word in words:
        middle = (word.start + word.end) / 2
        index = max(0, bisect.bisect_right(starts, middle) - 1)
        between = middle > ends[index] and index + 1 < len(raw_segments)
        if between and starts[index + 1] - middle < middle - ends[index]:
            index += 1  # between two segments: the nearer one
        assigned[index].append(word)
    out = []
    for raw, start, end, own in zip(raw_segments, starts, ends, assigned, strict=True):
        logprob = raw.get("avg_logprob")
        confidence = round(math.exp(min(0.0, finite(logprob))), 3) if logprob is not None else None
        out.append(
            Segment(
                start=round(start, 3),
                end=round(end, 3),
                text=str(raw["text"]).strip(),
                confidence=confidence,
                words=tuple(own),
            )
        )
    return out


class OpenAIEngine(HostedEngine):
    """Batch transcription of one channel with OpenAI's transcription API."""

    def __init__(self, config: OpenAIConfig) -> None:
        if not config.api_key:
            raise EngineNotConfigured("OpenAI transcription needs an API key")
        if config.max_file_bytes > MAX_FILE_BYTES or config.max_file_bytes < 16_000:
            raise EngineNotConfigured(
                f"OpenAI max_file_bytes must be between 16000 and {MAX_FILE_BYTES}"
            )
        self.config = config
        headers = {"Authorization": f"Bearer {config.api_key}", "User-Agent": "ringadmin-stt/1"}
        if config.organization:
            headers["OpenAI-Organization"] = config.organization
        self._client = httpx.Client(
            timeout=timeout(connect=config.connect_timeout, read=config.timeout), headers=headers
        )
        self.info = EngineInfo(engine="openai", model=config.model)

    def transcribe(
        self, audio: np.ndarray, *, progress: ProgressCallback | None = None
    ) -> list[Segment]:
        samples = as_int16(audio)
        total = len(samples)
        segments: list[Segment] = []
        if audible(samples):
            max_seconds = wav_seconds_for(self.config.max_file_bytes)
            for start, end in split_by_voice_activity(samples, max_seconds=max_seconds):
                piece = samples[start:end]
                if audible(piece) and len(piece) >= MIN_SECONDS * SAMPLE_RATE:
                    body = self.transcribe_file(wav_bytes(piece))
                    segments.extend(
                        shift_segments(segments_from_verbose(body), start / SAMPLE_RATE)
                    )
                report_progress(progress, done=end, total=total)
        report_progress(progress, done=1, total=1)
        return segments

    def transcribe_file(self, wav: bytes) -> dict[str, Any]:
        """One ``/v1/audio/transcriptions`` request; the ``verbose_json`` answer."""
        data: dict[str, Any] = {
            "model": self.config.model,
            "response_format": "verbose_json",
            "timestamp_granularities[]": ["word", "segment"],
        }
        if self.config.language:
            data["language"] = self.config.language
        if self.config.prompt:
            data["prompt"] = self.config.prompt
        response = send(
            self._client,
            "POST",
            f"{self.config.base_url.rstrip('/')}/v1/audio/transcriptions",
            vendor=VENDOR,
            parse_error=_openai_error,
            data=data,
            files={"file": ("audio.wav", wav, "audio/wav")},
        )
        return json_of(response, vendor=VENDOR)
