"""A local fake of three hosted speech-to-text APIs on loopback: ``FakeSpeech``.

Google Cloud Speech-to-Text v1 (with Cloud Storage uploads, long-running operations and the
service-account token exchange), Deepgram ``/v1/listen`` and OpenAI
``/v1/audio/transcriptions`` cannot be pointed at a CI runner, cost money per minute, and
rarely fail on demand. This server speaks their documented contracts, validates requests as
strictly as they do (answering in each vendor's own error envelope), and lets tests inject
429s, 5xx and slow answers through a control API under ``/_fake/``.

It cannot recognise speech. It finds the voiced regions of each channel by energy and
"hears" the words of a script (``POST /_fake/script``) spread over them, so tests can check
channel mapping and word times; without a script each voiced region is one word,
``word1``, ``word2``, … Standard library, NumPy and ``cryptography`` (to verify JWTs), no
Django: ``python -m streaming.transcription.fake_speech --port 8930``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import copy
import io
import itertools
import json
import logging
import math
import re
import secrets
import threading
import time
import uuid
import wave
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np

from ringadmin.vendors.fake.loopback import LoopbackFake, LoopbackServer, read_chunked
from streaming.audio import mulaw

logger = logging.getLogger("streaming.transcription.fake_speech")

DEFAULT_GOOGLE_API_KEY = "fake-google-api-key"
DEFAULT_DEEPGRAM_KEY = "fake-deepgram-key"
DEFAULT_OPENAI_KEY = "sk-fake-openai-key"
DEFAULT_BUCKET = "fake-speech-bucket"
DEFAULT_CLIENT_EMAIL = "fake-stt@fake-project.iam.gserviceaccount.com"
BANNER_TITLE = "FAKE Google Speech-to-Text + Deepgram + OpenAI (for testing; not a real account)"
CONTROL_PREFIX = "/_fake"
TOKEN_PATH = "/token"  # noqa: S105 - a path
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
SPEECH_TYPE_PREFIX = "type.googleapis.com/google.cloud.speech.v1."
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_SYNC_LIMIT_SECONDS = 60.0
OPENAI_MAX_BYTES = 26_214_400
OPENAI_FORMATS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")

# What the fake hears: 20 ms frames louder than about -40 dBFS, gaps under 0.3 s bridged.
FRAME_SECONDS = 0.02
VOICED_RMS = 300.0
BRIDGE_SECONDS = 0.3
MIN_REGION_SECONDS = 0.08
WORD_CONFIDENCE = 0.9
REQUEST_LOG_SIZE = 1000  # a fake left running for days keeps the newest requests only

GOOGLE_MODELS = frozenset(
    {
        "default",
        "phone_call",
        "telephony",
        "telephony_short",
        "latest_long",
        "latest_short",
        "command_and_search",
        "video",
        "medical_conversation",
        "medical_dictation",
    }
)
GOOGLE_ENCODINGS = frozenset(
    {
        "ENCODING_UNSPECIFIED",
        "LINEAR16",
        "FLAC",
        "MULAW",
        "AMR",
        "AMR_WB",
        "OGG_OPUS",
        "SPEEX_WITH_HEADER_BYTE",
        "MP3",
        "WEBM_OPUS",
    }
)
GOOGLE_CONFIG_FIELDS = frozenset(
    {
        "encoding",
        "sampleRateHertz",
        "audioChannelCount",
        "enableSeparateRecognitionPerChannel",
        "languageCode",
        "alternativeLanguageCodes",
        "maxAlternatives",
        "profanityFilter",
        "adaptation",
        "transcriptNormalization",
        "speechContexts",
        "enableWordTimeOffsets",
        "enableWordConfidence",
        "enableAutomaticPunctuation",
        "enableSpokenPunctuation",
        "enableSpokenEmojis",
        "diarizationConfig",
        "metadata",
        "model",
        "useEnhanced",
    }
)
GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
GOOGLE_FAULT_MESSAGES = {
    429: "Resource has been exhausted (e.g. check quota).",
    500: "Internal error encountered.",
    503: "The service is currently unavailable.",
    504: "Deadline exceeded.",
}
DEEPGRAM_MODELS = frozenset(
    {
        "nova-3",
        "nova-3-general",
        "nova-2",
        "nova-2-general",
        "nova-2-phonecall",
        "nova-2-meeting",
        "nova",
        "nova-phonecall",
        "enhanced",
        "enhanced-phonecall",
        "base",
        "base-phonecall",
    }
)
DEEPGRAM_CODES = {
    400: ("Bad Request", "Bad Request"),
    401: ("INVALID_AUTH", "Invalid credentials."),
    402: ("ASR_PAYMENT_REQUIRED", "Project does not have enough credits for this request."),
    403: ("INSUFFICIENT_PERMISSIONS", "You do not have permission to perform this action."),
    429: ("TOO_MANY_REQUESTS", "Too many requests. Please try again later."),
}
OPENAI_MODELS = frozenset({"whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe"})
OPENAI_FAULTS = {
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests."),
    500: ("server_error", None, "The server had an error while processing your request."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


# --- requests and answers ----------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    length: int  # the declared body length (a body over a vendor's limit is drained, not kept)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, data: Any, headers: dict[str, str] | None = None) -> Response:
        return cls(
            status,
            json.dumps(data).encode(),
            {"Content-Type": "application/json", **(headers or {})},
        )


class FakeError(Exception):
    """Raised by a handler: answer with ``response``."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def google_error(status: int, message: str, rpc_status: str | None = None) -> FakeError:
    return FakeError(
        Response.json(
            status,
            {
                "error": {
                    "code": status,
                    "message": message,
                    "status": rpc_status or GOOGLE_STATUS.get(status, "UNKNOWN"),
                }
            },
        )
    )


def gcs_error(status: int, message: str, reason: str) -> FakeError:
    return FakeError(
        Response.json(
            status,
            {
                "error": {
                    "code": status,
                    "message": message,
                    "errors": [{"message": message, "domain": "global", "reason": reason}],
                }
            },
        )
    )


def oauth_error(status: int, error: str, description: str) -> FakeError:
    return FakeError(Response.json(status, {"error": error, "error_description": description}))


def deepgram_error(status: int, message: str | None = None, code: str | None = None) -> FakeError:
    default_code, default_message = DEEPGRAM_CODES.get(
        status, ("INTERNAL_SERVER_ERROR", "Internal server error.")
    )
    return FakeError(
        Response.json(
            status,
            {
                "err_code": code or default_code,
                "err_msg": message or default_message,
                "request_id": str(uuid.uuid4()),
            },
        )
    )


def openai_error(
    status: int,
    message: str,
    *,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> FakeError:
    return FakeError(
        Response.json(
            status, {"error": {"message": message, "type": type_, "param": param, "code": code}}
        )
    )


def _bearer(request: Request) -> str | None:
    scheme, _, token = (request.header("authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _vendor(path: str) -> str:
    if path.startswith(("/v1/speech:", "/v1/operations")):
        return "google"
    if path.startswith(("/upload/storage/", "/storage/")):
        return "gcs"
    if path == TOKEN_PATH:
        return "oauth"
    if path == "/v1/listen":
        return "deepgram"
    if path.startswith("/v1/audio/"):
        return "openai"
    return "unknown"


def _duration(seconds: float) -> str:
    """Seconds as a protobuf Duration in JSON: ``"1.300s"``, ``"2s"``."""
    millis = max(0, round(seconds * 1000))
    whole, fraction = divmod(millis, 1000)
    return f"{whole}.{fraction:03d}s" if fraction else f"{whole}s"


def _now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- what the fake hears -----------------------------------------------------------------------


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


# --- faults ------------------------------------------------------------------------------------


@dataclass
class Fault:
    id: str
    status: int | None = None  # None: answer normally (after ``delay``)
    times: int | None = 1  # None: until removed
    retry_after: float | None = None
    delay: float = 0.0
    vendor: str | None = None  # google, gcs, oauth, deepgram, openai
    path_regex: str | None = None
    method: str | None = None
    code: str | None = None  # the vendor's error code (e.g. OpenAI "insufficient_quota")
    message: str | None = None

    def matches(self, method: str, path: str, vendor: str) -> bool:
        return (
            (self.vendor is None or self.vendor == vendor)
            and (self.method is None or self.method.upper() == method)
            and (self.path_regex is None or re.search(self.path_regex, path) is not None)
        )

    def describe(self) -> dict[str, Any]:
        return dict(self.__dict__)


FAULT_KEYS = frozenset(
    {"status", "times", "retry_after", "delay", "vendor", "path_regex", "method", "code", "message"}
)


def fault_response(fault: Fault, vendor: str) -> Response:
    status = fault.status or 500
    headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
    if vendor in ("google", "unknown"):
        message = fault.message or GOOGLE_FAULT_MESSAGES.get(
            status, f"Injected fault: HTTP {status}"
        )
        response = google_error(status, message, fault.code).response
    elif vendor == "gcs":
        message = fault.message or f"Injected fault: HTTP {status}"
        response = gcs_error(status, message, fault.code or "backendError").response
    elif vendor == "oauth":
        error = fault.code or ("invalid_grant" if status < 500 else "internal_failure")
        response = oauth_error(status, error, fault.message or f"Injected fault: HTTP {status}")
        response = response.response
    elif vendor == "deepgram":
        response = deepgram_error(status, fault.message, fault.code).response
    else:
        type_, code, message = OPENAI_FAULTS.get(
            status,
            ("server_error" if status >= 500 else "invalid_request_error", None, "Injected fault"),
        )
        response = openai_error(
            status, fault.message or message, type_=type_, code=fault.code or code
        ).response
    response.headers.update(headers)
    return response


# --- multipart ---------------------------------------------------------------------------------


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


def parse_multipart(body: bytes, content_type: str) -> list[Part] | None:
    """``multipart/form-data`` parts, or None if the body is not that."""
    found = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.lower().startswith("multipart/form-data") or not found:
        return None
    delimiter = b"--" + found.group(1).encode()
    parts = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, separator, data = chunk.partition(b"\r\n\r\n")
        if not separator:
            return None
        data = data.removesuffix(b"\r\n")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            if value:
                headers[name.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name_match = re.search(r'\bname="([^"]*)"', disposition)
        file_match = re.search(r'\bfilename="([^"]*)"', disposition)
        if not name_match:
            return None
        parts.append(
            Part(
                name=name_match.group(1),
                filename=file_match.group(1) if file_match else None,
                content_type=headers.get("content-type"),
                data=data,
            )
        )
    return parts


# --- state -------------------------------------------------------------------------------------


@dataclass
class Operation:
    name: str
    polls_left: int
    polls_total: int
    uri: str
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    start_time: str = field(default_factory=_now_rfc3339)


class FakeSpeech(LoopbackFake):
    """The fake on a loopback port, in a daemon thread, with the control API as methods.

    ``with FakeSpeech() as fake: GoogleSpeechEngine(GoogleSpeechConfig(base_url=fake.url,
    api_key=fake.google_api_key, ...))``. Every method is thread-safe (one lock).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        google_api_key: str = DEFAULT_GOOGLE_API_KEY,
        deepgram_key: str = DEFAULT_DEEPGRAM_KEY,
        openai_key: str = DEFAULT_OPENAI_KEY,
        buckets: Sequence[str] = (DEFAULT_BUCKET,),
        operation_polls: int = 2,
        token_lifetime: int = 3600,
        log: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(
            host,
            port,
            log,
            handler=_Handler,
            thread_prefix="fake-speech",
            logger=logger,
            log_prefix="fake speech",
        )
        self.google_api_key = google_api_key
        self.deepgram_key = deepgram_key
        self.openai_key = openai_key
        self.buckets = set(buckets)
        self.operation_polls = operation_polls
        self.token_lifetime = token_lifetime
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self._reset_state()

    def _reset_state(self) -> None:
        self._script: dict[int | str, list[str]] = {}
        self._faults: list[Fault] = []
        self._requests: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_SIZE)
        self._objects: dict[tuple[str, str], tuple[bytes, str]] = {}
        self._operations: dict[str, Operation] = {}
        self._operation_errors: list[dict[str, Any]] = []
        self._tokens: dict[str, float] = {}
        self._accounts: dict[str, Any] = {}  # client_email → public key

    # --- lifecycle

    @property
    def token_uri(self) -> str:
        return f"{self.url}{TOKEN_PATH}"

    def _on_start(self) -> None:
        self._stopping.clear()

    def _on_stop(self) -> None:
        self._stopping.set()  # cuts injected delays short

    # --- control API mirrors

    def set_script(
        self,
        *,
        agent: str | None = None,
        caller: str | None = None,
        mono: str | None = None,
        channels: dict[int, str] | None = None,
    ) -> None:
        """What the fake hears: per channel of a multichannel request, and for mono requests.

        ``agent`` is channel 0 and ``caller`` channel 1 of a request with one recognition per
        channel; ``mono`` is for single-channel requests (each channel sent on its own).
        """
        script: dict[int | str, list[str]] = {}
        for key, text in {**(channels or {}), 0: agent, 1: caller, "mono": mono}.items():
            if text is not None:
                script[key] = text.split()
        with self._lock:
            self._script = script

    def clear_script(self) -> None:
        with self._lock:
            self._script = {}

    def add_fault(
        self,
        *,
        status: int | None = None,
        times: int | None = 1,
        retry_after: float | None = None,
        delay: float = 0.0,
        vendor: str | None = None,
        path_regex: str | None = None,
        method: str | None = None,
        code: str | None = None,
        message: str | None = None,
    ) -> str:
        """The next ``times`` matching requests answer ``status`` (after ``delay`` seconds)."""
        fault = Fault(
            id=f"fault-{next(self._ids)}",
            status=status,
            times=times,
            retry_after=retry_after,
            delay=delay,
            vendor=vendor,
            path_regex=path_regex,
            method=method,
            code=code,
            message=message,
        )
        with self._lock:
            self._faults.append(fault)
        return fault.id

    def clear_faults(self) -> None:
        with self._lock:
            self._faults = []

    def faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.describe() for f in self._faults]

    def requests(self, vendor: str | None = None) -> list[dict[str, Any]]:
        """What was sent (no bodies): path, query, auth kind, status and parsed details."""
        with self._lock:
            return [
                copy.deepcopy(r) for r in self._requests if vendor is None or r["vendor"] == vendor
            ]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def configure(
        self, *, operation_polls: int | None = None, token_lifetime: int | None = None
    ) -> dict[str, Any]:
        with self._lock:
            if operation_polls is not None:
                self.operation_polls = int(operation_polls)
            if token_lifetime is not None:
                self.token_lifetime = int(token_lifetime)
            return self._config()

    def _config(self) -> dict[str, Any]:
        return {
            "operation_polls": self.operation_polls,
            "token_lifetime": self.token_lifetime,
            "buckets": sorted(self.buckets),
        }

    def add_service_account(self, client_email: str, public_key_pem: str) -> None:
        """Accept JWTs signed by this key for ``client_email`` at the token endpoint."""
        from cryptography.hazmat.primitives import serialization

        key = serialization.load_pem_public_key(public_key_pem.encode())
        with self._lock:
            self._accounts[client_email] = key

    def create_service_account(self, client_email: str = DEFAULT_CLIENT_EMAIL) -> dict[str, str]:
        """A new key, registered; returns the JSON key file (its ``token_uri`` is this fake)."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self.add_service_account(client_email, public.decode())
        return {
            "type": "service_account",
            "project_id": "fake-project",
            "private_key_id": secrets.token_hex(20),
            "private_key": private.decode(),
            "client_email": client_email,
            "client_id": "100000000000000000000",
            "token_uri": self.token_uri,
        }

    def expire_tokens(self) -> None:
        """Revoke every access token: the next API call with one answers 401."""
        with self._lock:
            self._tokens = {}

    def fail_next_operation(self, *, code: int = 3, message: str = "Invalid audio.") -> None:
        """The next long-running operation ends with this ``google.rpc.Status`` error."""
        with self._lock:
            self._operation_errors.append({"code": int(code), "message": message})

    def objects(self) -> list[dict[str, Any]]:
        """The Cloud Storage objects held now (uploads not yet deleted)."""
        with self._lock:
            return [
                {"bucket": b, "name": n, "size": len(data), "contentType": content_type}
                for (b, n), (data, content_type) in sorted(self._objects.items())
            ]

    def reset(self) -> None:
        with self._lock:
            self._reset_state()

    # --- dispatch

    def respond(self, request: Request) -> Response:
        if request.path == CONTROL_PREFIX or request.path.startswith(CONTROL_PREFIX + "/"):
            try:
                return self._control(request)
            except FakeError as exc:
                return exc.response
        vendor = _vendor(request.path)
        entry: dict[str, Any] = {
            "seq": next(self._ids),
            "vendor": vendor,
            "method": request.method,
            "path": request.path,
            "query": {
                k: (["***"] if k == "key" else list(v)) for k, v in sorted(request.query.items())
            },
            "auth": _auth_kind(request),
            "content_type": request.header("content-type"),
            "bytes": request.length,
            "status": None,
        }
        with self._lock:
            self._requests.append(entry)
            fault = next(
                (f for f in self._faults if f.matches(request.method, request.path, vendor)), None
            )
            if fault is not None and fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
        response: Response | None = None
        if fault is not None:
            if fault.delay:
                self._stopping.wait(fault.delay)
            if fault.status is not None:
                response = fault_response(fault, vendor)
        if response is None:
            try:
                response = self._route(request, entry, vendor)
            except FakeError as exc:
                response = exc.response
        with self._lock:
            entry["status"] = response.status
        return response

    def _note(self, entry: dict[str, Any], **details: Any) -> None:
        with self._lock:
            entry.update(details)

    def _route(self, request: Request, entry: dict[str, Any], vendor: str) -> Response:
        method, path = request.method, request.path
        if vendor == "google":
            if method == "POST" and path == "/v1/speech:recognize":
                return self._google_recognize(request, entry, long_running=False)
            if method == "POST" and path == "/v1/speech:longrunningrecognize":
                return self._google_recognize(request, entry, long_running=True)
            found = re.fullmatch(r"/v1/operations/([^/]+)", path)
            if method == "GET" and found:
                return self._google_operation(request, unquote(found.group(1)))
            raise google_error(404, f"Method not found: {method} {path}")
        if vendor == "gcs":
            found = re.fullmatch(r"/upload/storage/v1/b/([^/]+)/o", path)
            if method == "POST" and found:
                return self._gcs_upload(request, entry, unquote(found.group(1)))
            found = re.fullmatch(r"/storage/v1/b/([^/]+)/o/(.+)", path)
            if method == "DELETE" and found:
                return self._gcs_delete(request, unquote(found.group(1)), unquote(found.group(2)))
            raise gcs_error(404, "Not Found", "notFound")
        if vendor == "oauth" and method == "POST":
            return self._token(request, entry)
        if vendor == "deepgram" and method == "POST":
            return self._deepgram_listen(request, entry)
        if vendor == "openai" and method == "POST" and path == "/v1/audio/transcriptions":
            return self._openai_transcribe(request, entry)
        if vendor == "openai":
            raise openai_error(404, f"Invalid URL ({method} {path})")
        raise FakeError(Response.json(404, {"error": f"no route {method} {path}"}))

    def _script_for(self, key: int | str) -> list[str] | None:
        with self._lock:
            words = self._script.get(key)
            return list(words) if words is not None else None

    # --- Google: auth and tokens

    def _token_valid(self, token: str) -> bool:
        with self._lock:
            expires = self._tokens.get(token)
        return expires is not None and expires > time.time()

    def _google_auth(self, request: Request) -> str:
        key = request.param("key") or request.header("x-goog-api-key")
        if key is not None:
            if key != self.google_api_key:
                raise google_error(400, "API key not valid. Please pass a valid API key.")
            return "api_key"
        token = _bearer(request)
        if token is not None:
            if not self._token_valid(token):
                raise google_error(
                    401,
                    "Request had invalid authentication credentials. Expected OAuth 2 access "
                    "token, login cookie or other valid authentication credential.",
                )
            return "bearer"
        raise google_error(
            403,
            "Method doesn't allow unregistered callers (callers without established identity)."
            " Please use API Key or other form of API consumer identity to call this API.",
        )

    def _token(self, request: Request, entry: dict[str, Any]) -> Response:
        form = parse_qs(request.body.decode("utf-8", "replace"))
        grant_type = (form.get("grant_type") or [""])[0]
        if grant_type != JWT_BEARER:
            raise oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")
        assertion = (form.get("assertion") or [""])[0]
        claims = self._verify_assertion(assertion, request)
        self._note(entry, oauth={"iss": claims.get("iss"), "scope": claims.get("scope")})
        token = f"ya29.fake-{secrets.token_hex(16)}"
        with self._lock:
            lifetime = self.token_lifetime
            self._tokens[token] = time.time() + lifetime
        return Response.json(
            200, {"access_token": token, "expires_in": lifetime, "token_type": "Bearer"}
        )

    def _verify_assertion(self, assertion: str, request: Request) -> dict[str, Any]:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        parts = assertion.split(".")
        try:
            if len(parts) != 3:
                raise ValueError("three parts expected")
            header, claims = (json.loads(_b64url_decode(p)) for p in parts[:2])
            signature = _b64url_decode(parts[2])
        except (ValueError, binascii.Error) as exc:
            raise oauth_error(400, "invalid_grant", "Invalid JWT: malformed assertion") from exc
        if header.get("alg") != "RS256":
            raise oauth_error(400, "invalid_grant", "Invalid JWT: the algorithm must be RS256.")
        with self._lock:
            key = self._accounts.get(claims.get("iss"))
        if key is None:
            raise oauth_error(400, "invalid_grant", "Invalid grant: account not found")
        try:
            key.verify(
                signature,
                f"{parts[0]}.{parts[1]}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature as exc:
            raise oauth_error(400, "invalid_grant", "Invalid JWT Signature.") from exc
        host = request.header("host") or ""
        audiences = {f"http://{host}{TOKEN_PATH}", self.token_uri, GOOGLE_TOKEN_URI}
        if claims.get("aud") not in audiences:
            raise oauth_error(
                400,
                "invalid_grant",
                f"Invalid JWT: Failed audience check. The expected value is {self.token_uri}",
            )
        now = time.time()
        issued, expires = claims.get("iat"), claims.get("exp")
        if (
            not isinstance(issued, int | float)
            or not isinstance(expires, int | float)
            or issued > now + 60
            or expires <= now
            or expires - issued > 3600
        ):
            raise oauth_error(
                400,
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
                "timeframe. Check your iat and exp values in the JWT claim.",
            )
        if CLOUD_PLATFORM_SCOPE not in str(claims.get("scope") or "").split():
            raise oauth_error(
                400, "invalid_scope", "Invalid OAuth scope or ID token audience provided."
            )
        return claims

    # --- Google: recognition

    def _google_recognize(
        self, request: Request, entry: dict[str, Any], *, long_running: bool
    ) -> Response:
        self._google_auth(request)
        try:
            body = json.loads(request.body or b"null")
        except ValueError as exc:
            raise google_error(400, "Invalid JSON payload received. Unexpected token.") from exc
        if not isinstance(body, dict):
            raise google_error(400, "Invalid JSON payload received. Expected an object.")
        allowed = {"config", "audio"} | ({"outputConfig"} if long_running else set())
        for name in body:
            if name not in allowed:
                raise google_error(
                    400, f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.'
                )
        config = _camel_config(body.get("config"))
        audio_field = body.get("audio")
        if not isinstance(audio_field, dict) or not (
            audio_field.get("content") or audio_field.get("uri")
        ):
            raise google_error(400, "RecognitionAudio not set.")
        if audio_field.get("content") and audio_field.get("uri"):
            raise google_error(
                400, "Invalid recognition 'audio': only one of 'content' or 'uri' may be set."
            )
        uri = audio_field.get("uri")
        data = self._gcs_read(uri) if uri else _decode_content(audio_field["content"])
        audio = _google_audio(config, data)
        self._note(
            entry,
            google={
                "config": config,
                "audio": "uri" if uri else "content",
                "uri": uri,
                "audio_container": audio.container,
                "audio_channels": audio.channels,
                "audio_seconds": round(audio.seconds, 3),
            },
        )
        if audio.seconds > GOOGLE_SYNC_LIMIT_SECONDS:
            if not long_running:
                raise google_error(
                    400,
                    "Sync input too long. For audio longer than 1 min use LongRunningRecognize "
                    "with a 'uri' parameter.",
                )
            if not uri:
                raise google_error(
                    400, "Inline audio exceeds duration limit. Please use a GCS URI."
                )
        result = self._google_results(config, audio)
        if not long_running:
            return Response.json(200, result)
        with self._lock:
            name = str(7_000_000_000_000_000_000 + next(self._ids))
            operation = Operation(
                name=name,
                polls_left=self.operation_polls,
                polls_total=self.operation_polls,
                uri=uri or "",
            )
            if self._operation_errors:
                operation.error = self._operation_errors.pop(0)
            else:
                operation.result = result
            self._operations[name] = operation
        return Response.json(200, {"name": name, "metadata": _operation_metadata(operation, 0)})

    def _google_results(self, config: dict[str, Any], audio: Audio) -> dict[str, Any]:
        separate = bool(config.get("enableSeparateRecognitionPerChannel")) and audio.channels > 1
        if separate:
            heard = [
                (index + 1, hear(audio.samples[:, index], audio.rate, self._script_for(index)))
                for index in range(audio.channels)
            ]
        else:  # Google recognises only the first channel unless asked for each
            heard = [(0, hear(audio.samples[:, 0], audio.rate, self._script_for("mono")))]
        punctuate = bool(config.get("enableAutomaticPunctuation"))
        offsets = bool(config.get("enableWordTimeOffsets"))
        confidence = bool(config.get("enableWordConfidence"))
        language = str(config.get("languageCode") or "en-US").lower()
        results = []
        for tag, regions in heard:
            for region in regions:
                texts = [w.text if punctuate else bare(w.text) for w in region]
                alternative: dict[str, Any] = {
                    "transcript": " ".join(texts),
                    "confidence": WORD_CONFIDENCE,
                }
                if offsets or confidence:
                    words = []
                    for word, text in zip(region, texts, strict=True):
                        item: dict[str, Any] = {"word": text}
                        if offsets:
                            item["startTime"] = _duration(word.start)
                            item["endTime"] = _duration(word.end)
                        if confidence:
                            item["confidence"] = WORD_CONFIDENCE
                        words.append(item)
                    alternative["words"] = words
                result: dict[str, Any] = {
                    "alternatives": [alternative],
                    "resultEndTime": _duration(region[-1].end),
                    "languageCode": language,
                }
                if tag:
                    result["channelTag"] = tag
                results.append((region[-1].end, tag, result))
        results.sort(key=lambda item: (item[0], item[1]))  # channels interleaved in time
        answer: dict[str, Any] = {
            "totalBilledTime": f"{math.ceil(audio.seconds)}s",
            "requestId": str(secrets.randbits(62)),
        }
        if results:
            answer["results"] = [r for _, _, r in results]
        return answer

    def _google_operation(self, request: Request, name: str) -> Response:
        self._google_auth(request)
        with self._lock:
            operation = self._operations.get(name)
            if operation is None:
                raise google_error(404, f"Operation {name} not found.")
            if operation.polls_left > 0:
                operation.polls_left -= 1
                done_polls = operation.polls_total - operation.polls_left
                percent = int(100 * done_polls / (operation.polls_total + 1))
                return Response.json(
                    200, {"name": name, "metadata": _operation_metadata(operation, percent)}
                )
            answer: dict[str, Any] = {
                "name": name,
                "metadata": _operation_metadata(operation, 100),
                "done": True,
            }
            if operation.error is not None:
                answer["error"] = operation.error
            else:
                answer["response"] = {
                    "@type": f"{SPEECH_TYPE_PREFIX}LongRunningRecognizeResponse",
                    **(operation.result or {}),
                }
        return Response.json(200, answer)

    # --- Cloud Storage

    def _gcs_auth(self, request: Request) -> None:
        token = _bearer(request)
        if token is None:
            raise gcs_error(
                401,
                "Anonymous caller does not have storage.objects.create access to the Google "
                "Cloud Storage object.",
                "required",
            )
        if not self._token_valid(token):
            raise gcs_error(401, "Invalid Credentials", "authError")

    def _gcs_upload(self, request: Request, entry: dict[str, Any], bucket: str) -> Response:
        self._gcs_auth(request)
        if request.param("uploadType") != "media":
            raise gcs_error(400, "The fake supports uploadType=media only.", "invalidParameter")
        name = request.param("name")
        if not name:
            raise gcs_error(400, "Required parameter: name", "required")
        if bucket not in self.buckets:
            raise gcs_error(404, "The specified bucket does not exist.", "notFound")
        content_type = request.header("content-type") or "application/octet-stream"
        with self._lock:
            self._objects[(bucket, name)] = (request.body, content_type)
        self._note(entry, gcs={"bucket": bucket, "name": name, "size": len(request.body)})
        return Response.json(
            200,
            {
                "kind": "storage#object",
                "id": f"{bucket}/{name}/1",
                "name": name,
                "bucket": bucket,
                "size": str(len(request.body)),
                "contentType": content_type,
                "timeCreated": _now_rfc3339(),
            },
        )

    def _gcs_delete(self, request: Request, bucket: str, name: str) -> Response:
        self._gcs_auth(request)
        with self._lock:
            if self._objects.pop((bucket, name), None) is None:
                raise gcs_error(404, f"No such object: {bucket}/{name}", "notFound")
        return Response(204)

    def _gcs_read(self, uri: Any) -> bytes:
        found = re.fullmatch(r"gs://([^/]+)/(.+)", str(uri))
        if not found:
            raise google_error(
                400, "Invalid recognition 'audio': the uri must be gs://bucket/object."
            )
        with self._lock:
            stored = self._objects.get((found.group(1), found.group(2)))
        if stored is None:
            raise google_error(404, "Requested entity was not found.")
        return stored[0]

    # --- Deepgram

    def _deepgram_listen(self, request: Request, entry: dict[str, Any]) -> Response:
        scheme, _, key = (request.header("authorization") or "").partition(" ")
        if scheme.lower() != "token" or key.strip() != self.deepgram_key:
            raise deepgram_error(401)
        params = {k: v[-1] for k, v in request.query.items()}
        model = params.get("model", "base")
        if model not in DEEPGRAM_MODELS:
            raise deepgram_error(400, "No such model/language/tier combination found.")
        for name in ("multichannel", "punctuate", "smart_format"):
            if name in params and params[name] not in ("true", "false"):
                raise deepgram_error(400, f"Invalid value for query parameter '{name}'.")
        content_type = (request.header("content-type") or "").lower()
        if not content_type.startswith("audio/"):
            raise deepgram_error(
                400, "Bad Request: expected an audio body (Content-Type audio/*) for this fake."
            )
        audio = parse_wav(request.body)
        if audio is None:
            raise deepgram_error(
                400, "Bad Request: failed to process audio: corrupt or unsupported data"
            )
        multichannel = params.get("multichannel") == "true"
        punctuated = params.get("punctuate") == "true" or params.get("smart_format") == "true"
        self._note(
            entry,
            deepgram={
                "params": params,
                "audio_channels": audio.channels,
                "sample_rate": audio.rate,
                "audio_seconds": round(audio.seconds, 3),
            },
        )
        if multichannel:
            heard = [
                hear(audio.samples[:, i], audio.rate, self._script_for(i))
                for i in range(audio.channels)
            ]
        else:  # channels mixed down, as Deepgram does
            heard = [hear(audio.mono(), audio.rate, self._script_for("mono"))]
        channels = []
        for regions in heard:
            words = []
            for word in itertools.chain.from_iterable(regions):
                item: dict[str, Any] = {
                    "word": bare(word.text).lower(),
                    "start": word.start,
                    "end": word.end,
                    "confidence": WORD_CONFIDENCE,
                }
                if punctuated:
                    item["punctuated_word"] = word.text
                words.append(item)
            transcript = " ".join(w.get("punctuated_word", w["word"]) for w in words)
            channels.append(
                {
                    "alternatives": [
                        {"transcript": transcript, "confidence": WORD_CONFIDENCE, "words": words}
                    ]
                }
            )
        model_id = str(uuid.uuid5(uuid.NAMESPACE_URL, model))
        return Response.json(
            200,
            {
                "metadata": {
                    "request_id": str(uuid.uuid4()),
                    "created": _now_rfc3339(),
                    "duration": round(audio.seconds, 3),
                    "channels": len(channels),
                    "models": [model_id],
                    "model_info": {model_id: {"name": model, "version": "fake", "arch": model}},
                },
                "results": {"channels": channels},
            },
        )

    # --- OpenAI

    def _openai_transcribe(self, request: Request, entry: dict[str, Any]) -> Response:
        if request.length > OPENAI_MAX_BYTES:
            raise openai_error(
                413,
                f"Maximum content size limit ({OPENAI_MAX_BYTES}) exceeded ({request.length} "
                "bytes read)",
                type_="server_error",
            )
        token = _bearer(request)
        if token is None:
            raise openai_error(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        if token != self.openai_key:
            raise openai_error(
                401,
                f"Incorrect API key provided: {token[:3]}***{token[-4:]}. You can find your API "
                "key at https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )
        parts = parse_multipart(request.body, request.header("content-type") or "")
        if parts is None:
            raise openai_error(
                400,
                "Invalid Content-Type header (expected multipart/form-data).",
            )
        fields: dict[str, list[str]] = {}
        upload: Part | None = None
        for part in parts:
            if part.filename is not None:
                upload = part if part.name == "file" else upload
            else:
                fields.setdefault(part.name, []).append(part.data.decode("utf-8", "replace"))
        if upload is None:
            raise openai_error(
                400,
                "1 validation error for Request\nbody -> file\n  field required "
                "(type=value_error.missing)",
            )
        model = (fields.get("model") or [""])[0]
        if not model:
            raise openai_error(400, "you must provide a model parameter")
        if model not in OPENAI_MODELS:
            raise openai_error(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                code="model_not_found",
            )
        response_format = (fields.get("response_format") or ["json"])[0]
        if response_format not in ("json", "text", "srt", "verbose_json", "vtt"):
            raise openai_error(
                400,
                f"Invalid response_format '{response_format}'.",
                param="response_format",
            )
        if response_format == "verbose_json" and model != "whisper-1":
            raise openai_error(
                400,
                f"response_format 'verbose_json' is not compatible with model '{model}'. "
                "Use 'json' or 'text' instead.",
                param="response_format",
                code="unsupported_value",
            )
        granularities = fields.get("timestamp_granularities[]") or []
        if any(g not in ("word", "segment") for g in granularities):
            raise openai_error(
                400,
                "timestamp_granularities must be 'word' or 'segment'.",
                param="timestamp_granularities",
            )
        if granularities and response_format != "verbose_json":
            raise openai_error(
                400,
                "timestamp_granularities requires response_format=verbose_json.",
                param="timestamp_granularities",
            )
        language = (fields.get("language") or [""])[0]
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise openai_error(
                400,
                f"Invalid language '{language}'. Language parameter must be specified in "
                "ISO-639-1 format.",
                param="language",
                code="invalid_language_format",
            )
        extension = (upload.filename or "").rpartition(".")[2].lower()
        audio = parse_wav(upload.data) if extension == "wav" else None
        self._note(
            entry,
            openai={
                "fields": fields,
                "file": {
                    "filename": upload.filename,
                    "content_type": upload.content_type,
                    "bytes": len(upload.data),
                    "channels": audio.channels if audio else None,
                    "sample_rate": audio.rate if audio else None,
                    "audio_seconds": round(audio.seconds, 3) if audio else None,
                },
            },
        )
        if audio is None:
            raise openai_error(
                400,
                f"Invalid file format. Supported formats: {list(OPENAI_FORMATS)}",
                code="invalid_value",
                param="file",
            )
        if audio.seconds < 0.1:
            raise openai_error(
                400,
                "Audio file is too short. Minimum audio length is 0.1 seconds.",
                param="file",
                code="audio_too_short",
            )
        regions = hear(audio.mono(), audio.rate, self._script_for("mono"))
        text = " ".join(w.text for w in itertools.chain.from_iterable(regions))
        if response_format in ("text", "srt", "vtt"):
            return Response(200, text.encode(), {"Content-Type": "text/plain; charset=utf-8"})
        if response_format == "json":
            return Response.json(200, {"text": text})
        answer: dict[str, Any] = {
            "task": "transcribe",
            "language": "english",
            "duration": round(audio.seconds, 2),
            "text": text,
        }
        if "word" in granularities:
            answer["words"] = [
                {"word": bare(w.text), "start": w.start, "end": w.end}
                for w in itertools.chain.from_iterable(regions)
            ]
        if "segment" in granularities or not granularities:
            answer["segments"] = [
                {
                    "id": index,
                    "seek": 0,
                    "start": region[0].start,
                    "end": region[-1].end,
                    "text": " " + " ".join(w.text for w in region),
                    "tokens": [],
                    "temperature": 0.0,
                    "avg_logprob": -0.2,
                    "compression_ratio": 1.2,
                    "no_speech_prob": 0.01,
                }
                for index, region in enumerate(regions)
            ]
        return Response.json(200, answer)

    # --- the control API over HTTP

    def _control(self, request: Request) -> Response:
        route = request.path[len(CONTROL_PREFIX) :].rstrip("/")
        body: Any = {}
        if request.body:
            try:
                body = json.loads(request.body)
            except ValueError as exc:
                raise FakeError(Response.json(400, {"error": "the body is not JSON"})) from exc
        if not isinstance(body, dict):
            raise FakeError(Response.json(400, {"error": "the body must be a JSON object"}))
        method = request.method
        if route == "/requests" and method == "GET":
            return Response.json(200, {"requests": self.requests(request.param("vendor"))})
        if route == "/requests" and method == "DELETE":
            self.clear_requests()
            return Response(204)
        if route == "/script" and method == "POST":
            channels = {int(k): v for k, v in body.items() if k.isdigit() and v is not None}
            self.set_script(
                agent=body.get("agent"),
                caller=body.get("caller"),
                mono=body.get("mono"),
                channels=channels,
            )
            return Response.json(200, {"ok": True})
        if route == "/script" and method == "DELETE":
            self.clear_script()
            return Response(204)
        if route == "/faults" and method == "GET":
            return Response.json(200, {"faults": self.faults()})
        if route == "/faults" and method == "POST":
            unknown = set(body) - FAULT_KEYS
            if unknown:
                raise FakeError(Response.json(400, {"error": f"unknown keys {sorted(unknown)}"}))
            return Response.json(201, {"id": self.add_fault(**body)})
        if route == "/faults" and method == "DELETE":
            self.clear_faults()
            return Response(204)
        if route == "/config" and method == "GET":
            with self._lock:
                return Response.json(200, self._config())
        if route == "/config" and method == "POST":
            return Response.json(
                200,
                self.configure(
                    operation_polls=body.get("operation_polls"),
                    token_lifetime=body.get("token_lifetime"),
                ),
            )
        if route == "/service_accounts" and method == "POST":
            if body.get("create"):
                return Response.json(
                    201,
                    self.create_service_account(body.get("client_email") or DEFAULT_CLIENT_EMAIL),
                )
            self.add_service_account(str(body["client_email"]), str(body["public_key_pem"]))
            return Response(204)
        if route == "/expire_tokens" and method == "POST":
            self.expire_tokens()
            return Response(204)
        if route == "/operation_error" and method == "POST":
            self.fail_next_operation(
                code=int(body.get("code", 3)), message=str(body.get("message", "Invalid audio."))
            )
            return Response(204)
        if route == "/objects" and method == "GET":
            return Response.json(200, {"objects": self.objects()})
        if route == "/reset" and method == "POST":
            self.reset()
            return Response(204)
        raise FakeError(Response.json(404, {"error": f"no control route {method} {route}"}))


def _auth_kind(request: Request) -> str:
    if request.param("key") is not None:
        return "api_key"
    if request.header("x-goog-api-key") is not None:
        return "api_key_header"
    scheme = (request.header("authorization") or "").partition(" ")[0].lower()
    return {"bearer": "bearer", "token": "token"}.get(scheme, scheme or "none")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def _camel_config(config: Any) -> dict[str, Any]:
    """RecognitionConfig with proto JSON's snake_case names accepted; unknown names refused."""
    if not isinstance(config, dict):
        raise google_error(400, "Invalid recognition 'config': the request has no config.")
    out = {}
    for name, value in config.items():
        camel = _camel(name)
        if camel not in GOOGLE_CONFIG_FIELDS:
            raise google_error(
                400,
                f"Invalid JSON payload received. Unknown name \"{name}\" at 'config': "
                "Cannot find field.",
            )
        out[camel] = value
    return out


def _decode_content(content: Any) -> bytes:
    """Base64 as proto JSON reads it: standard or URL-safe alphabet."""
    text = str(content)
    for altchars in (None, b"-_"):
        try:
            return base64.b64decode(text, altchars=altchars, validate=True)
        except (binascii.Error, ValueError):
            continue
    shown = text if len(text) <= 20 else text[:20] + "..."
    raise google_error(
        400,
        f"Invalid value at 'audio.content' (TYPE_BYTES), Base64 decoding failed for \"{shown}\"",
    )


def _google_audio(config: dict[str, Any], data: bytes) -> Audio:
    """The audio as Google would read it from the config and the bytes, or its 400."""
    if not config.get("languageCode"):
        raise google_error(400, "Invalid recognition 'config': language_code is required.")
    model = config.get("model")
    if model is not None and model not in GOOGLE_MODELS:
        raise google_error(
            400, f"Invalid recognition 'config': The requested model \"{model}\" does not exist."
        )
    encoding = str(config.get("encoding") or "ENCODING_UNSPECIFIED")
    if encoding not in GOOGLE_ENCODINGS:
        raise google_error(
            400,
            f"Invalid value at 'config.encoding' (type.googleapis.com/google.cloud.speech.v1."
            f'RecognitionConfig.AudioEncoding), "{encoding}"',
        )
    rate = config.get("sampleRateHertz")
    channels = config.get("audioChannelCount")
    if rate is not None and (not isinstance(rate, int) or not 8000 <= rate <= 48000):
        raise google_error(
            400, "Invalid recognition 'config': sample_rate_hertz must be between 8000 and 48000."
        )
    if channels is not None and (not isinstance(channels, int) or not 1 <= channels <= 8):
        raise google_error(
            400, "Invalid recognition 'config': audio_channel_count must be between 1 and 8."
        )
    if encoding == "MULAW" and (channels or 1) != 1:
        raise google_error(
            400,
            f"Invalid recognition 'config': audio_channel_count ({channels}) is not supported "
            "for MULAW encoding: the only valid value is 1.",
        )
    wav = parse_wav(data)
    if wav is not None:
        if encoding not in ("ENCODING_UNSPECIFIED", "LINEAR16"):
            raise google_error(
                400,
                f"Invalid recognition 'config': the encoding {encoding} does not match the WAV "
                "header (LINEAR16).",
            )
        if rate is not None and rate != wav.rate:
            raise google_error(
                400,
                f"sample_rate_hertz ({rate}) in RecognitionConfig must either be unspecified or "
                f"match the value in the FLAC or WAV header ({wav.rate}).",
            )
        if wav.channels > 1 and (channels or 1) == 1:
            raise google_error(
                400,
                f"Must use single channel (mono) audio, but WAV header indicates "
                f"{wav.channels} channels.",
            )
        if channels is not None and channels != wav.channels:
            raise google_error(
                400,
                f"audio_channel_count ({channels}) in RecognitionConfig must either be "
                f"unspecified or match the value in the FLAC or WAV header ({wav.channels}).",
            )
        return wav
    if encoding == "ENCODING_UNSPECIFIED":
        raise google_error(
            400,
            "Invalid recognition 'config': bad encoding (unspecified, and no WAV or FLAC header).",
        )
    if rate is None:
        raise google_error(
            400, f"Invalid recognition 'config': sample_rate_hertz is required for {encoding}."
        )
    count = channels or 1
    if encoding == "MULAW":
        samples = mulaw.decode(data)
    elif encoding == "LINEAR16":
        if len(data) % (2 * count):
            raise google_error(
                400, "Invalid recognition 'audio': LINEAR16 audio length is not whole samples."
            )
        samples = np.frombuffer(data, dtype="<i2").astype(np.int16)
    else:
        raise google_error(400, f"The fake decodes LINEAR16 and MULAW only, not {encoding}.")
    return Audio(samples.reshape(-1, count), rate, "raw")


def _operation_metadata(operation: Operation, percent: int) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "@type": f"{SPEECH_TYPE_PREFIX}LongRunningRecognizeMetadata",
        "startTime": operation.start_time,
        "lastUpdateTime": _now_rfc3339(),
    }
    if percent:
        metadata["progressPercent"] = percent
    if operation.uri:
        metadata["uri"] = operation.uri
    return metadata


# --- HTTP plumbing ------------------------------------------------------------------------------


def _body_limit(path: str) -> int | None:
    return OPENAI_MAX_BYTES if path.startswith("/v1/audio/") else None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body in separate writes: no 40 ms ACK wait
    server_version = "FakeSpeech/1.0"
    sys_version = ""
    server: LoopbackServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: ``_handle`` logs one line per request instead (without the query)."""

    def _read_body(self, limit: int | None) -> tuple[bytes, int]:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = read_chunked(self.rfile)
            return (b"" if limit is not None and len(body) > limit else body), len(body)
        length = int(self.headers.get("Content-Length") or 0)
        if limit is not None and length > limit:
            remaining = length  # drained, so the client reads our answer instead of a reset
            while remaining > 0:
                remaining -= len(self.rfile.read(min(remaining, 1 << 20))) or remaining
            return b"", length
        return (self.rfile.read(length) if length > 0 else b""), length

    def _handle(self) -> None:
        started = time.monotonic()
        split = urlsplit(self.path)
        path = split.path or "/"
        body, length = self._read_body(_body_limit(path))
        request = Request(
            method=self.command,
            path=path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            length=length,
        )
        fake = self.server.fake
        try:
            response = fake.respond(request)
        except Exception:
            logger.exception("fake speech: unhandled error on %s %s", request.method, path)
            response = Response.json(500, {"error": "fake speech: unhandled error"})
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.status not in (204, 304):
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.body and self.command != "HEAD" and response.status not in (204, 304):
            self.wfile.write(response.body)
        fake.log_line(request.method, path, str(response.status), started)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle


# --- running it by hand -------------------------------------------------------------------------


def banner(fake: FakeSpeech, *, service_account_path: str | None = None) -> str:
    lines = [
        "=" * len(BANNER_TITLE),
        BANNER_TITLE,
        "=" * len(BANNER_TITLE),
        f"Listening on {fake.url} (use it as the base URL of every engine and of Cloud Storage)",
        f"Google API key: {fake.google_api_key}   bucket: {', '.join(sorted(fake.buckets))}",
        f"Deepgram key: {fake.deepgram_key}   OpenAI key: {fake.openai_key}",
    ]
    if service_account_path:
        lines.append(f"Service-account key file: {service_account_path}")
    lines += [
        f"Control API: {fake.url}{CONTROL_PREFIX}/requests, /script, /faults, /config, /reset",
        "Ctrl-C stops it.",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=BANNER_TITLE)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8930)
    parser.add_argument("--operation-polls", type=int, default=2)
    parser.add_argument(
        "--service-account-out",
        metavar="PATH",
        help="write a service-account key file accepted by this fake (needs cryptography)",
    )
    args = parser.parse_args(argv)
    fake = FakeSpeech(
        host=args.host,
        port=args.port,
        operation_polls=args.operation_polls,
        log=lambda line: print(line, flush=True),
    )
    fake.start()
    try:
        if args.service_account_out:
            with open(args.service_account_out, "w", encoding="utf-8") as handle:
                json.dump(fake.create_service_account(), handle, indent=2)
        print(banner(fake, service_account_path=args.service_account_out), flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        print("Stopping the fake.", flush=True)
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
