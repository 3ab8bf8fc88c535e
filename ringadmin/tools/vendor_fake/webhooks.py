"""The fake's outgoing calls: the subscription validation handshake and event delivery.

RingCentral refuses to create a webhook subscription unless the address answers an empty
POST carrying ``Validation-Token`` with a 200 that echoes it, within 3 s, in a small response.
The fake applies the same test, so a receiver that passes here is likely to pass there.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

USER_AGENT = "RingCentral-WebHook/fake"


@dataclass(frozen=True)
class ValidationFailure:
    code: str
    message: str


def _response_size(response: httpx.Response) -> int:
    """Bytes of the status line and headers as sent (approximately: HTTP/1.1 framing)."""
    size = len(f"HTTP/1.1 {response.status_code} {response.reason_phrase}\r\n")
    size += sum(len(name) + len(value) + 4 for name, value in response.headers.raw)
    return size + 2


def validate_address(
    address: str, *, timeout: float, max_response_bytes: int
) -> ValidationFailure | None:
    """Run RingCentral's handshake against ``address``; None when it passes."""
    token = str(uuid.uuid4())
    deadline = time.monotonic() + timeout
    try:
        with (
            httpx.Client(timeout=timeout, trust_env=False, follow_redirects=False) as client,
            client.stream(
                "POST",
                address,
                content=b"",
                headers={
                    "Validation-Token": token,
                    "Content-Type": "application/json",
                    "User-Agent": USER_AGENT,
                },
            ) as response,
        ):
            size = _response_size(response)
            for chunk in response.iter_raw():
                size += len(chunk)
                if size > max_response_bytes:
                    return ValidationFailure(
                        "SUB-525",
                        f"WebHook server response is invalid: it exceeds {max_response_bytes} "
                        "bytes, headers included",
                    )
                if time.monotonic() > deadline:
                    break
    except httpx.TimeoutException:
        return ValidationFailure("SUB-521", f"WebHook is not reachable: no answer in {timeout:g} s")
    except (httpx.HTTPError, ValueError) as exc:
        return ValidationFailure("SUB-521", f"WebHook is not reachable: {type(exc).__name__}")
    if time.monotonic() > deadline:
        return ValidationFailure("SUB-521", f"WebHook is not reachable: no answer in {timeout:g} s")
    if response.status_code != 200:
        return ValidationFailure(
            "SUB-520", f"Validation Token is not returned: HTTP {response.status_code}, not 200"
        )
    if response.headers.get("Validation-Token") != token:
        return ValidationFailure("SUB-520", "Validation Token is not returned")
    return None


def deliver(
    address: str, payload: dict[str, Any], *, verification_token: str | None, timeout: float
) -> dict[str, Any]:
    """POST one notification; the outcome, for the fake's delivery log."""
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    if verification_token:
        headers["Verification-Token"] = verification_token
    started = time.monotonic()
    result: dict[str, Any] = {"address": address, "uuid": payload.get("uuid")}
    try:
        with httpx.Client(timeout=timeout, trust_env=False, follow_redirects=False) as client:
            response = client.post(address, content=json.dumps(payload), headers=headers)
        result["status"] = response.status_code
    except httpx.HTTPError as exc:
        result["status"] = None
        result["error"] = type(exc).__name__
    result["ms"] = round((time.monotonic() - started) * 1000, 1)
    return result
