"""The ingest on the bare ``websockets`` server: the fastest way to serve RingCX's sockets.

daphne (and uvicorn) serve the whole application; each WebSocket message crosses their
protocol layer, an ASGI queue and a task switch before the ingest sees it. This server runs
the very same ASGI ingest application (:mod:`streaming.ingest.app`) but hands it each message
straight from the ``websockets`` connection: no queue, no extra task, no framework between.
It serves only the ingest socket at ``/`` (and ``/healthz`` for load balancers), so it runs
as its own process next to the web server (``python -m streaming.ingest_server --server
websockets --port 8001``); pages and browser sockets stay on daphne.

The ASGI handshake is kept whole: the ingest decides in ``process_request`` (before the
101 answer) whether to accept or to refuse with a real HTTP status (403, 404, 503), exactly
as with daphne's denial-response extension.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Request, Response, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed

logger = logging.getLogger("streaming.ingest")

DENIAL_EXTENSION = "websocket.http.response"
OPEN_TIMEOUT_SECONDS = 10.0  # how long the application waits for the 101 to complete


class _Decision:
    """What the application answered to the handshake: accept, or an HTTP denial."""

    __slots__ = ("accepted", "body", "headers", "status")

    def __init__(self) -> None:
        self.accepted = False
        self.status = 403
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""


class AsgiBridge:
    """One socket's ASGI ``receive``/``send`` over a ``websockets`` connection."""

    def __init__(self, scope: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        self.scope = scope
        self.decision = _Decision()
        self.decided: asyncio.Future[_Decision] = loop.create_future()
        self.opened: asyncio.Future[ServerConnection | None] = loop.create_future()
        self.connection: ServerConnection | None = None
        self._connect_sent = False
        self.task: asyncio.Task | None = None

    async def receive(self) -> dict[str, Any]:
        if not self._connect_sent:
            self._connect_sent = True
            return {"type": "websocket.connect"}
        connection = self.connection
        if connection is None:
            try:
                connection = await asyncio.wait_for(
                    asyncio.shield(self.opened), OPEN_TIMEOUT_SECONDS
                )
            except TimeoutError:
                connection = None
            if connection is None:
                return {"type": "websocket.disconnect", "code": 1006}
            self.connection = connection
        try:
            data = await connection.recv()
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else 1006
            return {"type": "websocket.disconnect", "code": code}
        if type(data) is str:
            return {"type": "websocket.receive", "text": data}
        return {"type": "websocket.receive", "bytes": data}

    async def send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        decision = self.decision
        if not self.decided.done():
            if kind == "websocket.accept":
                decision.accepted = True
                self.decided.set_result(decision)
            elif kind == "websocket.http.response.start":
                decision.status = int(message.get("status", 403))
                decision.headers = list(message.get("headers") or [])
            elif kind == "websocket.http.response.body":
                decision.body += bytes(message.get("body") or b"")
                if not message.get("more_body"):
                    self.decided.set_result(decision)
            elif kind == "websocket.close":
                decision.status, decision.body = 403, b"refused\n"
                self.decided.set_result(decision)
            return
        connection = self.connection or (self.opened.result() if self.opened.done() else None)
        if connection is None:
            return
        try:
            if kind == "websocket.send":
                text = message.get("text")
                await connection.send(text if text is not None else message.get("bytes") or b"")
            elif kind == "websocket.close":
                await connection.close(
                    int(message.get("code") or 1000), str(message.get("reason") or "")[:120]
                )
        except ConnectionClosed:
            pass

    async def run_application(self, application) -> None:
        try:
            await application(self.scope, self.receive, self.send)
        except Exception:
            logger.exception("ingest application failed on a socket")
        finally:
            if not self.decided.done():  # ended without answering the handshake
                self.decision.status, self.decision.body = 500, b"internal error\n"
                self.decided.set_result(self.decision)


def scope_for(connection: ServerConnection, request: Request) -> dict[str, Any]:
    """The ASGI scope daphne or uvicorn would build for this handshake."""
    path, _, query = request.path.partition("?")
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in request.headers.raw_items()
    ]
    client = connection.remote_address
    server = connection.local_address
    return {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": path or "/",
        "raw_path": (path or "/").encode("latin-1"),
        "query_string": query.encode("latin-1"),
        "root_path": "",
        "headers": headers,
        "client": [client[0], client[1]] if client else None,
        "server": [server[0], server[1]] if server else None,
        "subprotocols": [
            p.strip()
            for value in request.headers.get_all("Sec-WebSocket-Protocol")
            for p in value.split(",")
            if p.strip()
        ],
        "extensions": {DENIAL_EXTENSION: {}},
        "state": {},
    }


def _response(status: int, body: bytes, headers: list[tuple[bytes, bytes]] = ()) -> Response:
    response_headers = Headers()
    for name, value in headers:
        if name.lower() not in (b"content-length",):
            response_headers[name.decode("latin-1")] = value.decode("latin-1")
    response_headers["Content-Length"] = str(len(body))
    response_headers.setdefault("Content-Type", "text/plain; charset=utf-8")
    response_headers["Connection"] = "close"
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Refused"
    return Response(status, reason, response_headers, body)


class WebsocketsIngestServer:
    """Serves an ASGI WebSocket application with the ``websockets`` library."""

    def __init__(self, application, *, max_size: int) -> None:
        self.application = application
        self.max_size = max_size
        self._bridges: dict[ServerConnection, AsgiBridge] = {}

    async def process_request(self, connection: ServerConnection, request: Request):
        if request.path.partition("?")[0] == "/healthz":
            return _response(200, b"ok\n")
        if "upgrade" not in request.headers.get("Connection", "").lower():
            return _response(426, b"this port serves the RingCX WebSocket ingest only\n")
        bridge = AsgiBridge(scope_for(connection, request))
        bridge.task = asyncio.create_task(bridge.run_application(self.application))
        decision = await bridge.decided
        if not decision.accepted:
            return _response(decision.status, decision.body, decision.headers)
        self._bridges[connection] = bridge
        # If the 101 never completes, the handler is not called: tell the application.
        bridge.task.add_done_callback(lambda _t: self._bridges.pop(connection, None))
        return None

    async def handler(self, connection: ServerConnection) -> None:
        bridge = self._bridges.pop(connection, None)
        if bridge is None:
            return
        bridge.connection = connection
        if not bridge.opened.done():
            bridge.opened.set_result(connection)
        await bridge.task

    def process_response(self, connection: ServerConnection, request: Request, response):
        # A handshake that failed after the application accepted: release its waiting receive.
        if response.status_code != 101:
            bridge = self._bridges.pop(connection, None)
            if bridge is not None and not bridge.opened.done():
                bridge.opened.set_result(None)
        return None

    async def serve_forever(self, host: str, port: int) -> None:
        async with serve(
            self.handler,
            host,
            port,
            process_request=self.process_request,
            process_response=self.process_response,
            compression=None,
            max_size=self.max_size,
            backlog=2048,
            server_header="ringadmin-ingest",
        ) as server:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop.set)
            logger.info("ingest (websockets) listening on ws://%s:%d/", host, port)
            await stop.wait()
            # Live calls are cut off; the next start recovers their recordings (as after a crash
            # the WAV headers are already valid to the last commit).
            server.close(close_connections=True)
            await server.wait_closed()
