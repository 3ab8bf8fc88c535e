"""HTTP plumbing: one ``Request`` per HTTP request, handed to the fake's ``respond``."""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ringadmin.tools.vendor_fake.loopback import LoopbackServer, read_chunked

from .common import Request, Response, logger
from .openai import OPENAI_MAX_BYTES


def _body_limit(path: str) -> int | None:
    return OPENAI_MAX_BYTES if path.startswith("/v1/audio/") else None


class RequestHandler(BaseHTTPRequestHandler):
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
