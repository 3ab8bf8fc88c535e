"""Google Cloud Speech-to-Text v1 over REST: ``speech:recognize`` and long-running operations.

Synchronous recognition takes at most a minute of inline audio. Longer audio goes to a Cloud
Storage bucket and through ``speech:longrunningrecognize`` when a bucket is configured;
without one it is cut at quiet moments into pieces under a minute, each recognised on its
own, with times shifted back. Stereo goes in one request as LINEAR16 with one recognition
per channel (``channelTag`` 1 is the agent, 2 the caller); MULAW carries one channel only,
so with that encoding each channel is its own request.

Credentials are an API key (sent in the ``x-goog-api-key`` header, which keeps it out of
URLs and access logs) or a service-account key: the engine signs the OAuth JWT (RS256) and
exchanges it at the key's ``token_uri``, caching the token until shortly before it expires.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np

from streaming.audio import mulaw
from streaming.transcription.engines.base import (
    SAMPLE_RATE,
    EngineInfo,
    EngineNotConfigured,
    EngineUnavailable,
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
    error_for,
    finite,
    json_of,
    report_progress,
    segment_of,
    segments_from_words,
    send,
    shift_segments,
    split_by_voice_activity,
    stack_channels,
    timeout,
    transport_errors,
    wav_bytes,
)

logger = logging.getLogger(__name__)

VENDOR = "Google Speech-to-Text"
MODELS = frozenset({"phone_call", "telephony"})
ENCODINGS = frozenset({"LINEAR16", "MULAW"})
SYNC_LIMIT_SECONDS = 60.0  # speech:recognize refuses more
PIECE_SECONDS = 55.0  # pieces cut from longer audio when there is no bucket
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL, not a secret
JWT_LIFETIME = 3600
TOKEN_REFRESH_MARGIN = 300.0
MAX_POLL_INTERVAL = 30.0
# google.rpc.Code values worth another attempt later: ABORTED, RESOURCE_EXHAUSTED,
# DEADLINE_EXCEEDED, INTERNAL, UNAVAILABLE.
RETRYABLE_RPC_CODES = frozenset({10, 8, 4, 13, 14})
RETRYABLE_RPC_STATUSES = frozenset(
    {"ABORTED", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED", "INTERNAL", "UNAVAILABLE"}
)


@dataclass(frozen=True)
class GoogleSpeechConfig:
    api_key: str = field(default="", repr=False)
    service_account_file: str = ""  # path to a service-account JSON key
    service_account_json: str = field(default="", repr=False)  # or the key's JSON itself
    model: str = "phone_call"  # or "telephony"
    use_enhanced: bool = True  # phone_call only
    language_code: str = "en-US"
    encoding: str = "LINEAR16"  # LINEAR16: both channels per request; MULAW: one channel each
    bucket: str = ""  # Cloud Storage bucket for audio over a minute (needs a service account)
    object_prefix: str = "ringadmin-stt/"
    # Recordings do not stay in the bucket after recognition; a lifecycle rule on the bucket
    # (delete after a day) catches the rare upload a crash leaves behind.
    delete_uploads: bool = True
    base_url: str = "https://speech.googleapis.com"
    storage_url: str = "https://storage.googleapis.com"
    connect_timeout: float = 10.0
    timeout: float = 120.0  # per request
    poll_interval: float = 2.0  # first wait between operation polls; grows 1.5x to 30 s
    max_wait: float = 3600.0  # give up on a long-running operation after this long


@dataclass(frozen=True)
class ServiceAccount:
    client_email: str
    private_key_pem: str = field(repr=False)
    private_key_id: str = ""
    token_uri: str = DEFAULT_TOKEN_URI

    @classmethod
    def from_config(cls, config: GoogleSpeechConfig) -> ServiceAccount | None:
        if config.service_account_json:
            text, source = config.service_account_json, "GoogleSpeechConfig.service_account_json"
        elif config.service_account_file:
            source = config.service_account_file
            try:
                text = Path(source).expanduser().read_text(encoding="utf-8")
            except OSError as exc:
                raise EngineNotConfigured(
                    f"cannot read the service-account key {source}: {exc}"
                ) from exc
        else:
            return None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise EngineNotConfigured(f"the service-account key {source} is not JSON") from exc
        if not isinstance(data, dict) or data.get("type") != "service_account":
            raise EngineNotConfigured(
                f"{source} is not a service-account key (its type must be 'service_account')"
            )
        missing = [k for k in ("client_email", "private_key") if not data.get(k)]
        if missing:
            raise EngineNotConfigured(f"the service-account key {source} lacks {missing}")
        return cls(
            client_email=data["client_email"],
            private_key_pem=data["private_key"],
            private_key_id=data.get("private_key_id") or "",
            token_uri=data.get("token_uri") or DEFAULT_TOKEN_URI,
        )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class ServiceAccountAuth(httpx.Auth):
    """Bearer tokens from a signed JWT, cached until shortly before expiry; thread-safe.

    One lock around the refresh, so concurrent requests wait for one exchange instead of
    racing. A 401 (token revoked early) drops the token and retries once with a fresh one.
    """

    def __init__(
        self,
        account: ServiceAccount,
        *,
        timeout: httpx.Timeout,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        try:
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import rsa
        except ImportError as exc:  # pragma: no cover - cryptography comes with daphne
            raise EngineNotConfigured(
                "service-account keys need the 'cryptography' package: pip install cryptography"
            ) from exc
        try:
            key = serialization.load_pem_private_key(account.private_key_pem.encode(), None)
        except (ValueError, TypeError) as exc:
            raise EngineNotConfigured(
                f"the private key of {account.client_email} cannot be read: {exc}"
            ) from exc
        if not isinstance(key, rsa.RSAPrivateKey):
            raise EngineNotConfigured(f"the key of {account.client_email} is not an RSA key")
        self.account = account
        self._key = key
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0
        self._http = httpx.Client(timeout=timeout)
        self.exchanges = 0

    def close(self) -> None:
        self._http.close()

    def assertion(self) -> str:
        """The signed JWT that Google exchanges for an access token."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        now = int(self._wall_clock())
        header = {"alg": "RS256", "typ": "JWT"}
        if self.account.private_key_id:
            header["kid"] = self.account.private_key_id
        claims = {
            "iss": self.account.client_email,
            "scope": SCOPE,
            "aud": self.account.token_uri,
            "iat": now,
            "exp": now + JWT_LIFETIME,
        }
        signing_input = ".".join(
            _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._refresh_at:
                self._token, lifetime = self._exchange()
                margin = min(TOKEN_REFRESH_MARGIN, lifetime / 2)
                self._refresh_at = self._clock() + lifetime - margin
            return self._token

    def invalidate(self, token: str) -> None:
        """Forget ``token`` unless another thread has already replaced it."""
        with self._lock:
            if self._token == token:
                self._token = None

    def _exchange(self) -> tuple[str, float]:
        with transport_errors(f"{VENDOR} token exchange"):
            response = self._http.post(
                self.account.token_uri,
                data={
                    "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                    "assertion": self.assertion(),
                },
            )
        self.exchanges += 1
        if not response.is_success:
            raise error_for(response, vendor=f"{VENDOR} token exchange", parse=_oauth_error)
        body = json_of(response, vendor=f"{VENDOR} token exchange")
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise TranscriptionError(f"{VENDOR} token exchange: no access_token in the answer")
        return token, max(1.0, finite(body.get("expires_in"), 3600.0))

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            self.invalidate(token)
            request.headers["Authorization"] = f"Bearer {self.token()}"
            yield request


class _ApiKeyAuth(httpx.Auth):
    def __init__(self, key: str) -> None:
        self._key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["x-goog-api-key"] = self._key
        yield request


def _oauth_error(response: httpx.Response, body: Any) -> ApiErrorDetail:
    if not isinstance(body, dict):
        return ApiErrorDetail(message="")
    error = body.get("error")
    if isinstance(error, dict):  # some Google endpoints answer the API envelope here too
        return _google_error(response, body)
    description = body.get("error_description") or ""
    return ApiErrorDetail(message=f"{error}: {description}" if description else str(error or ""))


def _google_error(response: httpx.Response, body: Any) -> ApiErrorDetail:
    """``{"error": {"code", "message", "status", "details": [...]}}``."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return ApiErrorDetail(message="")
    status = str(error.get("status") or "")
    retry_after = None
    for detail in error.get("details") or ():
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("RetryInfo"):
            retry_after = parse_duration(detail.get("retryDelay"))
    retryable = True if status in RETRYABLE_RPC_STATUSES else None
    return ApiErrorDetail(
        message=str(error.get("message") or ""),
        code=status,
        retryable=retryable,
        retry_after=retry_after,
    )


def parse_duration(value: Any) -> float:
    """A protobuf Duration in JSON (``"1.300s"``, ``"2s"``), or a number, as seconds."""
    if value is None:
        return 0.0
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    if text.endswith("s"):
        text = text[:-1]
    return finite(text)


def _words(alternative: dict[str, Any]) -> list[Word]:
    words = []
    for item in alternative.get("words") or ():
        text = str(item.get("word") or "").strip()
        if not text:
            continue
        confidence = item.get("confidence")
        words.append(
            Word(
                start=round(parse_duration(item.get("startTime")), 3),
                end=round(parse_duration(item.get("endTime")), 3),
                text=text,
                confidence=round(float(confidence), 3) if confidence is not None else None,
            )
        )
    return words


def segments_by_channel(response: dict[str, Any]) -> dict[int, list[Segment]]:
    """Results grouped by ``channelTag`` (1 for mono answers, which carry none)."""
    out: dict[int, list[Segment]] = defaultdict(list)
    previous_end: dict[int, float] = defaultdict(float)
    for result in response.get("results") or ():
        tag = int(result.get("channelTag") or 1)
        alternatives = result.get("alternatives") or ()
        if not alternatives:
            continue
        alternative = alternatives[0]
        transcript = str(alternative.get("transcript") or "").strip()
        end = parse_duration(result.get("resultEndTime"))
        words = _words(alternative)
        if words:
            segments = segments_from_words(words)
            if len(segments) == 1 and transcript:
                segments = [segment_of(words, text=transcript)]
            out[tag].extend(segments)
        elif transcript:
            confidence = alternative.get("confidence")
            out[tag].append(
                Segment(
                    start=round(previous_end[tag], 3),
                    end=round(max(end, previous_end[tag]), 3),
                    text=transcript,
                    confidence=round(float(confidence), 3) if confidence is not None else None,
                )
            )
        previous_end[tag] = max(previous_end[tag], end)
    for segments in out.values():
        segments.sort(key=lambda s: s.start)
    return out


class GoogleSpeechEngine(HostedEngine):
    """Batch transcription with Google Cloud Speech-to-Text v1 (REST)."""

    def __init__(
        self,
        config: GoogleSpeechConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if config.model not in MODELS:
            raise EngineNotConfigured(
                f"Google model {config.model!r} is not a telephone model: use one of "
                f"{sorted(MODELS)}"
            )
        if config.encoding not in ENCODINGS:
            raise EngineNotConfigured(
                f"Google encoding {config.encoding!r} is not supported: use {sorted(ENCODINGS)}"
            )
        self.config = config
        self._sleep = sleep
        self._clock = clock
        self._timeout = timeout(connect=config.connect_timeout, read=config.timeout)
        account = ServiceAccount.from_config(config)
        auth: httpx.Auth
        if account is not None:
            self.service_account: ServiceAccountAuth | None = ServiceAccountAuth(
                account, timeout=self._timeout, clock=clock
            )
            auth = self.service_account
        elif config.api_key:
            if config.bucket:
                raise EngineNotConfigured(
                    "a Cloud Storage bucket needs a service-account key: API keys cannot "
                    "write to buckets (or leave the bucket empty to split long audio)"
                )
            self.service_account = None
            auth = _ApiKeyAuth(config.api_key)
        else:
            raise EngineNotConfigured(
                "Google Speech-to-Text needs an API key or a service-account key file"
            )
        self._client = httpx.Client(
            auth=auth, timeout=self._timeout, headers={"User-Agent": "ringadmin-stt/1"}
        )
        enhanced = "/enhanced" if config.use_enhanced and config.model == "phone_call" else ""
        self.info = EngineInfo(engine="google", model=f"{config.model}{enhanced}")

    def close(self) -> None:
        super().close()
        if self.service_account is not None:
            self.service_account.close()

    # --- the engine interface

    def transcribe(
        self, audio: np.ndarray, *, progress: ProgressCallback | None = None
    ) -> list[Segment]:
        samples = as_int16(audio)
        if not audible(samples):
            report_progress(progress, done=1, total=1)
            return []
        by_channel = self._transcribe_frames(samples[:, np.newaxis], progress=progress)
        return by_channel.get(1, [])

    def transcribe_stereo(
        self, left: np.ndarray, right: np.ndarray, *, progress: ProgressCallback | None = None
    ) -> StereoResult:
        if self.config.encoding == "MULAW":
            return self._each_channel(left, right, progress=progress)
        frames = stack_channels(left, right)
        if not audible(frames):
            report_progress(progress, done=1, total=1)
            return StereoResult()
        by_channel = self._transcribe_frames(frames, progress=progress)
        return StereoResult(agent=by_channel.get(1, []), caller=by_channel.get(2, []))

    def _each_channel(
        self, left: np.ndarray, right: np.ndarray, *, progress: ProgressCallback | None
    ) -> StereoResult:
        left, right = as_int16(left), as_int16(right)
        total = max(1, len(left) + len(right))

        def part(offset: int, length: int) -> ProgressCallback | None:
            if progress is None:
                return None
            return lambda fraction: progress((offset + fraction * length) / total)

        agent = self.transcribe(left, progress=part(0, len(left)))
        caller = self.transcribe(right, progress=part(len(left), len(right)))
        return StereoResult(agent=agent, caller=caller)

    # --- requests

    def recognition_config(self, *, channels: int) -> dict[str, Any]:
        config: dict[str, Any] = {
            "encoding": self.config.encoding,
            "sampleRateHertz": SAMPLE_RATE,
            "audioChannelCount": channels,
            "languageCode": self.config.language_code,
            "model": self.config.model,
            "enableWordTimeOffsets": True,
            "enableWordConfidence": True,
            "enableAutomaticPunctuation": True,
        }
        if channels > 1:
            config["enableSeparateRecognitionPerChannel"] = True
        if self.config.use_enhanced and self.config.model == "phone_call":
            config["useEnhanced"] = True
        return config

    def _payload(self, frames: np.ndarray) -> tuple[bytes, str]:
        """The audio bytes: WAV for LINEAR16 (its header states rate and channels), raw MULAW."""
        if self.config.encoding == "MULAW":
            return mulaw.encode(frames[:, 0]), "audio/basic"
        return wav_bytes(*frames.T), "audio/wav"

    def _transcribe_frames(
        self, frames: np.ndarray, *, progress: ProgressCallback | None
    ) -> dict[int, list[Segment]]:
        channels = frames.shape[1]
        config = self.recognition_config(channels=channels)
        total = len(frames)
        if total <= SYNC_LIMIT_SECONDS * SAMPLE_RATE:
            response = self.recognize(config=config, audio=self._payload(frames)[0])
            report_progress(progress, done=1, total=1)
            return segments_by_channel(response)
        if self.config.bucket:
            response = self.long_running(config=config, frames=frames, progress=progress)
            return segments_by_channel(response)
        out: dict[int, list[Segment]] = defaultdict(list)
        for start, end in split_by_voice_activity(frames, max_seconds=PIECE_SECONDS):
            piece = frames[start:end]
            if audible(piece):
                response = self.recognize(config=config, audio=self._payload(piece)[0])
                for tag, segments in segments_by_channel(response).items():
                    out[tag].extend(shift_segments(segments, start / SAMPLE_RATE))
            report_progress(progress, done=end, total=total)
        return out

    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = send(
            self._client,
            "POST",
            f"{self.config.base_url.rstrip('/')}/v1/{path}",
            vendor=VENDOR,
            parse_error=_google_error,
            json=payload,
        )
        return json_of(response, vendor=VENDOR)

    def recognize(self, *, config: dict[str, Any], audio: bytes) -> dict[str, Any]:
        """``speech:recognize`` with inline audio (a minute at most)."""
        content = base64.b64encode(audio).decode("ascii")
        return self._post("speech:recognize", {"config": config, "audio": {"content": content}})

    def long_running(
        self, *, config: dict[str, Any], frames: np.ndarray, progress: ProgressCallback | None
    ) -> dict[str, Any]:
        """Upload to the bucket, start ``speech:longrunningrecognize``, poll until done."""
        data, content_type = self._payload(frames)
        suffix = ".ulaw" if self.config.encoding == "MULAW" else ".wav"
        name = f"{self.config.object_prefix}{uuid.uuid4().hex}{suffix}"
        self._upload(name=name, data=data, content_type=content_type)
        try:
            operation = self._post(
                "speech:longrunningrecognize",
                {"config": config, "audio": {"uri": f"gs://{self.config.bucket}/{name}"}},
            )
            return self._wait(operation, progress=progress)
        finally:
            if self.config.delete_uploads:
                self._delete(name)

    def _wait(
        self, operation: dict[str, Any], *, progress: ProgressCallback | None
    ) -> dict[str, Any]:
        name = operation.get("name")
        if not name:
            raise TranscriptionError(f"{VENDOR}: the operation has no name")
        deadline = self._clock() + self.config.max_wait
        interval = max(0.0, self.config.poll_interval)
        reported = 0.0
        while not operation.get("done"):
            metadata = operation.get("metadata") or {}
            fraction = min(1.0, finite(metadata.get("progressPercent")) / 100)
            if progress is not None and fraction > reported:
                progress(fraction)
                reported = fraction
            if self._clock() + interval > deadline:
                raise EngineUnavailable(
                    f"{VENDOR}: operation {name} not done after {self.config.max_wait:.0f} s"
                )
            self._sleep(interval)
            interval = min(MAX_POLL_INTERVAL, max(interval * 1.5, 0.5))
            response = send(
                self._client,
                "GET",
                f"{self.config.base_url.rstrip('/')}/v1/operations/{quote(str(name), safe='')}",
                vendor=VENDOR,
                parse_error=_google_error,
            )
            operation = json_of(response, vendor=VENDOR)
        error = operation.get("error")
        if isinstance(error, dict):
            code = int(error.get("code") or 2)
            message = f"{VENDOR}: operation {name} failed ({code}): {error.get('message', '')}"
            if code in RETRYABLE_RPC_CODES:
                raise EngineUnavailable(message)
            raise TranscriptionError(message)
        if progress is not None:
            progress(1.0)
        result = operation.get("response")
        return result if isinstance(result, dict) else {}

    def _upload(self, *, name: str, data: bytes, content_type: str) -> None:
        bucket = quote(self.config.bucket, safe="")
        send(
            self._client,
            "POST",
            f"{self.config.storage_url.rstrip('/')}/upload/storage/v1/b/{bucket}/o",
            vendor=f"{VENDOR} (Cloud Storage upload)",
            parse_error=_google_error,
            params={"uploadType": "media", "name": name},
            content=data,
            headers={"Content-Type": content_type},
        )

    def _delete(self, name: str) -> None:
        """Best effort: a failure here must not hide the transcript or the original error."""
        bucket = quote(self.config.bucket, safe="")
        try:
            send(
                self._client,
                "DELETE",
                f"{self.config.storage_url.rstrip('/')}/storage/v1/b/{bucket}/o/"
                f"{quote(name, safe='')}",
                vendor=f"{VENDOR} (Cloud Storage delete)",
                parse_error=_google_error,
            )
        except TranscriptionError as exc:
            logger.warning(
                "could not delete gs://%s/%s after recognition: %s", self.config.bucket, name, exc
            )
