"""The loopback-server plumbing shared by the local vendor fakes: ``LoopbackFake``.

A fake binds a ``ThreadingHTTPServer`` on loopback, serves it from a daemon thread and logs
one line per request. Subclasses name their request handler and thread prefix and add their
own steps through ``_on_start`` and ``_on_stop``; ``read_chunked`` reads chunked request
bodies for their handlers. Standard library only, no Django: the streaming fakes import it
too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase
from types import TracebackType
from typing import BinaryIO, Self


def read_chunked(rfile: BinaryIO | BufferedIOBase) -> bytes:
    """A ``Transfer-Encoding: chunked`` request body, its trailers read and dropped."""
    chunks: list[bytes] = []
    while True:
        size = int(rfile.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(chunks)
        chunks.append(rfile.read(size))
        rfile.readline()


class LoopbackServer(ThreadingHTTPServer):
    """The HTTP server of one fake; request handlers reach the fake as ``self.server.fake``."""

    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        fake: LoopbackFake,
        handler: type[BaseHTTPRequestHandler],
    ) -> None:
        self.fake = fake
        super().__init__(address, handler)


class LoopbackFake:
    """A fake on a loopback port, served from a daemon thread; a context manager.

    ``handler`` answers the requests; the thread is named ``{thread_prefix}-{port}``; request
    lines go to ``log`` when given, else to ``logger`` as ``"{log_prefix}: {line}"``.
    """

    def __init__(
        self,
        host: str,
        port: int,
        log: Callable[[str], None] | None,
        *,
        handler: type[BaseHTTPRequestHandler],
        thread_prefix: str,
        logger: logging.Logger,
        log_prefix: str,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._log = log
        self._handler = handler
        self._thread_prefix = thread_prefix
        self._logger = logger
        self._log_prefix = log_prefix
        self._server: LoopbackServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake is not started")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _on_start(self) -> None:
        """Runs once the port is bound, before the first request is served."""

    def _on_stop(self) -> None:
        """Runs as the fake stops, before the server shuts down."""

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("the fake is already started")
        self._server = LoopbackServer((self.host, self._requested_port), self, self._handler)
        self._on_start()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"{self._thread_prefix}-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        self._on_stop()
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def log_line(self, method: str, path: str, status: str, started: float) -> None:
        """One line per request: method, path (never the query: it may carry keys), status, ms."""
        line = f"{method} {path} {status} {(time.monotonic() - started) * 1000:.1f}ms"
        if self._log is not None:
            self._log(line)
        else:
            self._logger.info("%s: %s", self._log_prefix, line)
