"""Requests, responses and the three vendor error shapes the fake speaks.

RingCentral's OAuth endpoint, its REST API and RingCX each shape errors differently; a client
that classifies errors must see each one exactly where the real service would send it.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

REDACTED = "[redacted]"
_SECRET_KEY = re.compile(r"secret|token|assertion|password|passwd|jwt|authorization|cookie", re.I)
_NOT_SECRET_KEY = re.compile(r"type$", re.I)  # rcTokenType, tokenType: names of kinds, not secrets
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key)) and not _NOT_SECRET_KEY.search(key)


def redact(data: Any) -> Any:
    """A copy of ``data`` with the values of secret-looking keys masked, recursively."""
    if isinstance(data, dict):
        return {
            key: REDACTED if isinstance(key, str) and is_secret_key(key) else redact(value)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [redact(value) for value in data]
    return data


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    """Headers with credentials masked; the scheme stays, so a test can see Basic vs Bearer."""
    clean = {}
    for name, value in headers.items():
        if name.lower() in SECRET_HEADERS:
            scheme, _, rest = value.partition(" ")
            clean[name] = f"{scheme} {REDACTED}" if rest else REDACTED
        else:
            clean[name] = value
    return clean


def iso(ts: float) -> str:
    """RingCentral's timestamp format: UTC, milliseconds, ``Z``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes
    received_at: float = field(default_factory=time.time)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    def form(self) -> dict[str, str]:
        """The urlencoded body, one value per field (the first, as servlet containers do)."""
        if self.content_type != "application/x-www-form-urlencoded" or not self.body:
            return {}
        parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {key: values[0] for key, values in parsed.items()}

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def param(self, name: str) -> str | None:
        """A form field, else a query parameter: RingCX accepts either."""
        form = self.form()
        return form[name] if name in form else self.arg(name)

    def json(self) -> Any:
        """The JSON body; raises ``ValueError`` when it is not JSON."""
        if not self.body:
            raise ValueError("empty body")
        return json.loads(self.body)

    def parsed_body(self) -> Any:
        """The body as logged: JSON, form fields, text, or None."""
        if not self.body:
            return None
        if self.content_type == "application/x-www-form-urlencoded":
            return self.form()
        try:
            return json.loads(self.body)
        except ValueError:
            return self.body.decode("utf-8", "replace")


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-serialisable, or bytes sent as is, or None for no body
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body).encode()


class ApiError(Exception):
    """Raised by a route to answer with an error response."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, body)
        self.response = Response(status, body, dict(headers or {}))


def rc_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> ApiError:
    """RingCentral REST API error: ``{errorCode, message, errors:[{errorCode, message, ...}]}``."""
    detail = {"errorCode": code, "message": message, **extra}
    return ApiError(status, {"errorCode": code, "message": message, "errors": [detail]}, headers)


def oauth_error(status: int, error: str, description: str) -> ApiError:
    """RingCentral's OAuth endpoint speaks RFC 6749: ``{error, error_description}``."""
    return ApiError(status, {"error": error, "error_description": description})


def cx_error(
    status: int,
    code: str,
    message: str,
    request: Request,
    *,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> ApiError:
    """RingCX error: ``{errorCode, generalMessage, details, requestUri, timestamp}``."""
    body = {
        "errorCode": code,
        "generalMessage": message,
        "details": details,
        "requestUri": request.path,
        "timestamp": int(time.time() * 1000),
    }
    return ApiError(status, body, headers)
