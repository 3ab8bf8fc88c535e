"""Injected faults: the next matching requests answer a status (after a delay), in the
envelope of the vendor they were sent to."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .common import (
    Response,
    deepgram_error,
    gcs_error,
    google_error,
    oauth_error,
    openai_error,
)

GOOGLE_FAULT_MESSAGES = {
    429: "Resource has been exhausted (e.g. check quota).",
    500: "Internal error encountered.",
    503: "The service is currently unavailable.",
    504: "Deadline exceeded.",
}
OPENAI_FAULTS = {
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests."),
    500: ("server_error", None, "The server had an error while processing your request."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


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
