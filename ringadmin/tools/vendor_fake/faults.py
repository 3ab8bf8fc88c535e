"""Injected faults and the request log: what a test asks the fake to break, and what every
caller sent (secrets redacted), for both vendors."""

from __future__ import annotations

import re
import threading
import uuid
from collections import deque
from dataclasses import dataclass, fields
from typing import Any

from .common import Request, iso, redact, redact_headers


@dataclass
class Fault:
    """One injected failure, matched on method and a regex searched in the path."""

    id: str
    path_regex: str = ".*"
    method: str | None = None
    status: int | None = None
    retry_after: int | None = None
    omit_retry_after: bool = False
    delay: float = 0.0
    body: str | None = None
    malformed: bool = False
    disconnect: bool = False
    times: int | None = None  # None: until removed
    hits: int = 0

    def __post_init__(self) -> None:
        self._regex = re.compile(self.path_regex)
        if self.method is not None:
            self.method = self.method.upper()
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError("status must be an HTTP status code")
        if self.delay < 0 or (self.times is not None and self.times < 1):
            raise ValueError("delay must be >= 0 and times >= 1")
        if self.status is None and not (self.malformed or self.disconnect or self.delay):
            raise ValueError("a fault needs a status, malformed, disconnect or a delay")

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and bool(self._regex.search(path))

    def describe(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class FaultsAndRequestLog:
    """The part of ``FakeState`` that holds the injected faults and the request log."""

    lock: threading.RLock
    faults: list[Fault]
    request_log: deque[dict[str, Any]]

    def add_fault(self, **spec: Any) -> Fault:
        fault = Fault(id=uuid.uuid4().hex[:12], **spec)
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def remove_fault(self, fault_id: str) -> bool:
        with self.lock:
            before = len(self.faults)
            self.faults = [f for f in self.faults if f.id != fault_id]
            return len(self.faults) < before

    def take_fault(self, method: str, path: str) -> Fault | None:
        """The first matching fault, counted; one whose ``times`` ran out is removed."""
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.hits += 1
                    if fault.times is not None and fault.hits >= fault.times:
                        self.faults.remove(fault)
                    return fault
            return None

    def record_request(self, request: Request) -> dict[str, Any]:
        entry = {
            "method": request.method,
            "path": request.path,
            "query": redact({k: v if len(v) > 1 else v[0] for k, v in request.query.items()}),
            "headers": redact_headers(request.headers),
            "body": redact(request.parsed_body()),
            "time": iso(request.received_at),
        }
        with self.lock:
            self.request_log.append(entry)
        return entry

    def requests(self, *, path_regex: str | None = None, method: str | None = None) -> list[dict]:
        regex = re.compile(path_regex) if path_regex else None
        with self.lock:
            return [
                dict(entry)
                for entry in self.request_log
                if (regex is None or regex.search(entry["path"]))
                and (method is None or entry["method"] == method.upper())
            ]

    def clear_requests(self) -> None:
        with self.lock:
            self.request_log.clear()
