"""What the three vendors' fakes share: defaults, requests and answers, each vendor's error
envelope, and small helpers."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger("tests.doubles.fake_speech")

DEFAULT_GOOGLE_API_KEY = "fake-google-api-key"
DEFAULT_DEEPGRAM_KEY = "fake-deepgram-key"
DEFAULT_OPENAI_KEY = "sk-fake-openai-key"
DEFAULT_BUCKET = "fake-speech-bucket"
DEFAULT_CLIENT_EMAIL = "fake-stt@fake-project.iam.gserviceaccount.com"
BANNER_TITLE = "FAKE Google Speech-to-Text + Deepgram + OpenAI (for testing; not a real account)"
CONTROL_PREFIX = "/_fake"
TOKEN_PATH = "/token"
REQUEST_LOG_SIZE = 1000  # a fake left running for days keeps the newest requests only
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
DEEPGRAM_CODES = {
    400: ("Bad Request", "Bad Request"),
    401: ("INVALID_AUTH", "Invalid credentials."),
    402: ("ASR_PAYMENT_REQUIRED", "Project does not have enough credits for this request."),
    403: ("INSUFFICIENT_PERMISSIONS", "You do not have permission to perform this action."),
    429: ("TOO_MANY_REQUESTS", "Too many requests. Please try again later."),
}


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


def bearer_token(request: Request) -> str | None:
    scheme, _, token = (request.header("authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def vendor_of(path: str) -> str:
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


def proto_duration(seconds: float) -> str:
    """Seconds as a protobuf Duration in JSON: ``"1.300s"``, ``"2s"``."""
    millis = max(0, round(seconds * 1000))
    whole, fraction = divmod(millis, 1000)
    return f"{whole}.{fraction:03d}s" if fraction else f"{whole}s"


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
