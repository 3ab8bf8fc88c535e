"""Deepgram pre-recorded transcription: ``POST /v1/listen`` with the recording as a WAV.

Both channels go in one request with ``multichannel=true``; Deepgram answers one result per
channel, in channel order (0 is the agent, 1 the caller). Its words carry times and
confidences; they are grouped into segments at pauses and sentence ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from streaming.transcription.engines.base import (
    EngineInfo,
    EngineNotConfigured,
    ProgressCallback,
    Segment,
    StereoResult,
    TranscriptionError,
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
    stack_channels,
    timeout,
    wav_bytes,
)

VENDOR = "Deepgram"


@dataclass(frozen=True)
class DeepgramConfig:
    api_key: str = field(default="", repr=False)
    model: str = "nova-2-phonecall"
    language: str = ""  # empty: Deepgram's default (English)
    base_url: str = "https://api.deepgram.com"
    connect_timeout: float = 10.0
    timeout: float = 600.0  # Deepgram processes for up to 10 minutes before giving up


def _deepgram_error(response: httpx.Response, body: Any) -> ApiErrorDetail:
    """``{"err_code": "...", "err_msg": "...", "request_id": "..."}``."""
    if not isinstance(body, dict):
        return ApiErrorDetail(message="")
    message = str(body.get("err_msg") or body.get("message") or "")
    request_id = body.get("request_id")
    if request_id:
        message = f"{message} (request {request_id})"
    return ApiErrorDetail(message=message, code=str(body.get("err_code") or ""))


def _channel_segments(channel: dict[str, Any]) -> list[Segment]:
    alternatives = channel.get("alternatives") or ()
    if not alternatives:
        return []
    words = []
    for item in alternatives[0].get("words") or ():
        text = str(item.get("punctuated_word") or item.get("word") or "").strip()
        if not text:
            continue
        confidence = item.get("confidence")
        words.append(
            Word(
                start=round(finite(item.get("start")), 3),
                end=round(finite(item.get("end")), 3),
                text=text,
                confidence=round(float(confidence), 3) if confidence is not None else None,
            )
        )
    return segments_from_words(words)


class DeepgramEngine(HostedEngine):
    """Batch transcription with Deepgram; stereo in one request."""

    def __init__(self, config: DeepgramConfig) -> None:
        if not config.api_key:
            raise EngineNotConfigured("Deepgram needs an API key")
        if not config.model:
            raise EngineNotConfigured("Deepgram needs a model name (e.g. nova-2-phonecall)")
        self.config = config
        self._client = httpx.Client(
            timeout=timeout(connect=config.connect_timeout, read=config.timeout),
            headers={
                "Authorization": f"Token {config.api_key}",
                "User-Agent": "ringadmin-stt/1",
            },
        )
        self.info = EngineInfo(engine="deepgram", model=config.model)

    def transcribe(
        self, audio: np.ndarray, *, progress: ProgressCallback | None = None
    ) -> list[Segment]:
        samples = as_int16(audio)
        segments = self.listen(wav_bytes(samples), channels=1)[0] if audible(samples) else []
        report_progress(progress, done=1, total=1)
        return segments

    def transcribe_stereo(
        self, left: np.ndarray, right: np.ndarray, *, progress: ProgressCallback | None = None
    ) -> StereoResult:
        frames = stack_channels(left, right)
        if audible(frames):
            agent, caller = self.listen(wav_bytes(*frames.T), channels=2)
        else:
            agent, caller = [], []
        report_progress(progress, done=1, total=1)
        return StereoResult(agent=agent, caller=caller)

    def listen(self, wav: bytes, *, channels: int) -> list[list[Segment]]:
        """One ``/v1/listen`` request; segments per channel, in channel order."""
        params = {
            "model": self.config.model,
            "punctuate": "true",
            "smart_format": "true",
        }
        if channels > 1:
            params["multichannel"] = "true"
        if self.config.language:
            params["language"] = self.config.language
        response = send(
            self._client,
            "POST",
            f"{self.config.base_url.rstrip('/')}/v1/listen",
            vendor=VENDOR,
            parse_error=_deepgram_error,
            params=params,
            content=wav,
            headers={"Content-Type": "audio/wav"},
        )
        body = json_of(response, vendor=VENDOR)
        results = body.get("results") or {}
        answered = results.get("channels") or []
        if len(answered) != channels:
            raise TranscriptionError(
                f"{VENDOR}: sent {channels} channel(s), the answer has {len(answered)}"
            )
        return [_channel_segments(channel) for channel in answered]
