"""The ingest's own server: RingCX sockets straight from the network into the pipeline.

daphne and uvicorn serve the whole application; each WebSocket message crosses their protocol
layer, an ASGI queue and a task switch before the ingest sees it, which at hundreds of calls
is most of a frame's budget. This server speaks WebSocket with the ``websockets`` library's
sans-I/O protocol (its handshake validation, framing, fragmentation, ping/pong and closing
handshake) on a plain asyncio protocol, and hands every message to
:meth:`~streaming.ingest.app.IngestConnection.on_message` in the same callback that read it:
no queue, no task, no coroutine per frame. Only Start and Stop, which may wait for the
database, run as a task; the socket's later messages wait for them, in order.

The handshake is decided before the 101 answer, by the same code as under daphne, so refusals
are real HTTP statuses (403, 404, 503). It serves only the ingest socket at ``/`` (and
``/healthz`` for load balancers), as its own process next to the web server::

    python -m streaming.ingest_server --server websockets --port 8002
"""

from __future__ import annotations

import asyncio
import collections
import logging
import signal
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from websockets.datastructures import Headers
from websockets.frames import Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.server import ServerProtocol

from streaming.ingest.app import IngestConnection
from streaming.ingest.runtime import get_runtime

logger = logging.getLogger("streaming.ingest")

DENIAL_EXTENSION = "websocket.http.response"
CLOSE_TIMEOUT_SECONDS = 10.0  # for the peer to finish the closing handshake
BACKLOG_PAUSE = 500  # messages held behind a Start/Stop before reading from the socket pauses


def scope_for(request: Request, transport: asyncio.Transport) -> dict[str, Any]:
    """The ASGI scope daphne or uvicorn would build for this handshake."""
    path, _, query = request.path.partition("?")
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in request.headers.raw_items()
    ]
    client = transport.get_extra_info("peername")
    server = transport.get_extra_info("sockname")
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


def plain_response(
    status: int, body: bytes, headers: Sequence[tuple[bytes, bytes]] = ()
) -> Response:
    response_headers = Headers()
    for name, value in headers:
        if name.lower() != b"content-length":
            response_headers[name.decode("latin-1")] = value.decode("latin-1")
    response_headers["Content-Length"] = str(len(body))
    response_headers.setdefault("Content-Type", "text/plain; charset=utf-8")
    response_headers["Connection"] = "close"
    response_headers["Server"] = "ringadmin-ingest"
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Refused"
    return Response(status, reason, response_headers, body)


class IngestSocket(asyncio.Protocol):
    """One TCP connection: the HTTP handshake, then the RingCX socket's messages."""

    def __init__(self, server: IngestServer) -> None:
        self.server = server
        assert server.loop is not None  # sockets come only once the server started
        self.loop = server.loop
        self.transport: asyncio.Transport | None = None
        self.protocol = ServerProtocol(max_size=server.max_size)
        self.connection: IngestConnection | None = None
        self.opened = False  # the 101 went out: messages go to the ingest
        self.finished = False  # the ingest is done with this socket (its cleanup ran)
        self.lost = False
        self._response: Response | None = None  # the 101, held while the ingest decides
        self._denial: tuple[int, list, bytes] = (403, [], b"")  # a refusal being assembled
        self._decision: asyncio.Task | None = None
        self._fragments: list[bytes] = []
        self._text = True
        self._backlog: collections.deque[bytes] = collections.deque()
        self._busy: asyncio.Task | None = None  # a Start or Stop being handled
        self._paused = False  # reading paused: a backlog behind a Start or Stop
        self._write_paused = False  # reading paused: the peer does not take what we write
        self._timer: asyncio.TimerHandle | None = None

    # --- transport callbacks ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.sockets.add(self)
        # Absolute, from the connection: a client trickling its request is closed all the same.
        self._timer = self.loop.call_later(self.server.handshake_timeout, self._handshake_timeout)

    def data_received(self, data: bytes) -> None:
        protocol = self.protocol
        protocol.receive_data(data)
        events = protocol.events_received()
        self._flush()
        for event in events:
            if self.opened:
                self._on_frame(event)
            elif isinstance(event, Request):
                self._on_request(event)
        if protocol.close_expected():
            self._expect_close()

    def pause_writing(self) -> None:
        """The peer is not reading what we write (pongs to its pings, the close): read nothing
        more from it until it does, or a client pinging and never reading fills our memory."""
        self._write_paused = True
        if not self.lost:
            assert self.transport is not None  # connection_made came first
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        if not self.lost and not self._paused:
            assert self.transport is not None  # connection_made came first
            self.transport.resume_reading()

    def eof_received(self) -> bool:
        self.protocol.receive_eof()
        self.protocol.events_received()
        self._flush()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.server.sockets.discard(self)
        self.protocol.receive_eof()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._decision is not None and not self._decision.done() and not self.opened:
            return  # the decision finds the socket gone and cleans up
        if self.opened and self._busy is None:
            self._finish()

    # --- the handshake ----------------------------------------------------------------------
    def _on_request(self, request: Request) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        path = request.path.partition("?")[0]
        if path == "/healthz":
            self._respond(plain_response(200, b"ok\n"))
            return
        response = self.protocol.accept(request)
        if response.status_code != 101:  # not a valid WebSocket upgrade
            if response.status_code == 426 or "upgrade" not in (
                request.headers.get("Connection", "").lower()
            ):
                response = plain_response(426, b"this port serves the RingCX WebSocket ingest\n")
            self._respond(response)
            return
        self._response = response
        assert self.transport is not None  # the request came through it
        self.connection = IngestConnection(
            scope_for(request, self.transport), None, self._send, get_runtime()
        )
        self._decision = self.loop.create_task(self._decide())

    async def _decide(self) -> None:
        connection = self.connection
        assert connection is not None  # made with the task
        try:
            accepted = await connection.open()
        except Exception:
            logger.exception("the ingest handshake failed")
            if not self.lost and self._response is not None:
                self._respond(plain_response(500, b"internal error\n"))
            return
        if not accepted:
            if not self.lost and self._response is not None:  # no answer sent: refuse anyway
                self._respond(plain_response(403, b"refused\n"))
            return
        if self.lost:  # the client left while we decided
            self.opened = True
            self._finish()

    def _respond(self, response: Response) -> None:
        """Answer the handshake with ``response`` (a refusal or the 101)."""
        self._response = None
        self.protocol.send_response(response)
        self._flush()
        if response.status_code == 101:
            self.opened = True
        else:
            self._expect_close()

    def _handshake_timeout(self) -> None:
        self._timer = None
        if self.transport is not None and not self.opened:
            self.transport.abort()

    # --- the ingest's sends (ASGI messages) -------------------------------------------------
    async def _send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if self._response is not None:  # still deciding the handshake
            if kind == "websocket.accept":
                self._respond(self._response)
            elif kind == "websocket.http.response.start":
                self._denial = (
                    int(message.get("status", 403)),
                    list(message.get("headers") or []),
                    b"",
                )
            elif kind == "websocket.http.response.body":
                status, headers, body = self._denial
                body += bytes(message.get("body") or b"")
                self._denial = (status, headers, body)
                if not message.get("more_body"):
                    self._respond(plain_response(status, body, headers))
            elif kind == "websocket.close":
                self._respond(plain_response(403, b"refused\n"))
            return
        if self.lost or self.protocol.state is not State.OPEN:
            return
        if kind == "websocket.send":
            text = message.get("text")
            if text is not None:
                self.protocol.send_text(text.encode())
            else:
                self.protocol.send_binary(bytes(message.get("bytes") or b""))
            self._flush()
        elif kind == "websocket.close":
            reason = str(message.get("reason") or "").encode()[:120].decode("utf-8", "ignore")
            self.protocol.send_close(int(message.get("code") or 1000), reason)
            self._flush()
            self._expect_close()

    # --- messages ---------------------------------------------------------------------------
    def _on_frame(self, frame) -> None:
        opcode = frame.opcode
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            if frame.fin:
                self._deliver(frame.data if opcode is Opcode.BINARY else bytes(frame.data))
            else:
                self._text = opcode is Opcode.TEXT
                self._fragments = [frame.data]
        elif opcode is Opcode.CONT:
            self._fragments.append(frame.data)
            if frame.fin:
                data, self._fragments = b"".join(self._fragments), []
                self._deliver(data)
        elif opcode is Opcode.CLOSE and self._busy is None:
            self._finish()

    def _deliver(self, data: bytes) -> None:
        if self.finished:
            return
        if self._busy is not None:
            self._backlog.append(data)
            if len(self._backlog) >= BACKLOG_PAUSE and not self._paused:
                self._paused = True
                assert self.transport is not None  # it delivered the data
                self.transport.pause_reading()
            return
        connection = self.connection
        assert connection is not None  # opened sockets have one
        try:
            pending = connection.on_message(data)
        except Exception:
            logger.exception("ingest socket failed; the call's recording is kept")
            pending = connection.close_failed()
        if pending is not None:
            self._busy = self.loop.create_task(self._await(pending))

    async def _await(self, pending) -> None:
        """Finish a Start or Stop, then the messages that waited for it, in order."""
        connection = self.connection
        assert connection is not None  # opened sockets have them
        assert self.transport is not None
        try:
            done = await pending
            backlog = self._backlog
            while not done and backlog:
                pending = connection.on_message(backlog.popleft())
                if pending is not None:
                    done = await pending
                if self._paused and len(backlog) < BACKLOG_PAUSE // 2 and not self.lost:
                    self._paused = False
                    if not self._write_paused:
                        self.transport.resume_reading()
        except Exception:
            logger.exception("ingest socket failed; the call's recording is kept")
            await connection.close_failed()
            done = True
        self._busy = None
        if done or self.lost or self.protocol.state is not State.OPEN:
            self._finish()

    def _finish(self) -> None:
        """The ingest is done with this socket: run its cleanup once, then close."""
        if self.finished:
            return
        self.finished = True
        self._backlog.clear()
        if self._paused and not self.lost:  # read on, so the closing handshake can finish
            self._paused = False
            if not self._write_paused:
                assert self.transport is not None  # pausing needed it
                self.transport.resume_reading()
        if self.connection is not None and self.opened:
            self.server.spawn(self._end())
        elif not self.lost and self.transport is not None:
            self.transport.close()

    async def _end(self) -> None:
        assert self.connection is not None  # spawned only for a socket with one
        try:
            await self.connection.ended()
        except Exception:
            logger.exception("ingest socket cleanup failed")
        if not self.lost and self.protocol.state is State.OPEN:
            await self._send({"type": "websocket.close", "code": 1000, "reason": ""})

    # --- writing and closing ----------------------------------------------------------------
    def _flush(self) -> None:
        transport = self.transport
        if transport is None or self.lost:
            self.protocol.data_to_send()
            return
        for data in self.protocol.data_to_send():
            if data:
                transport.write(data)
            elif transport.can_write_eof():
                try:
                    transport.write_eof()
                except Exception:  # already half-closed or gone
                    logger.debug("write_eof failed", exc_info=True)
            else:
                transport.close()

    def _expect_close(self) -> None:
        if self._timer is None and not self.lost:
            self._timer = self.loop.call_later(CLOSE_TIMEOUT_SECONDS, self._close_timeout)

    def _close_timeout(self) -> None:
        self._timer = None
        if self.transport is not None and not self.lost:
            self.transport.abort()


class IngestServer:
    """Listens for RingCX sockets; one :class:`IngestSocket` per TCP connection."""

    def __init__(self, *, max_size: int, handshake_timeout: float = 10.0) -> None:
        self.max_size = max_size
        self.handshake_timeout = handshake_timeout  # for the HTTP request to arrive
        self.loop: asyncio.AbstractEventLoop | None = None
        self.sockets: set[IngestSocket] = set()
        self._tasks: set[asyncio.Task] = set()

    def spawn(self, coroutine) -> asyncio.Task:
        assert self.loop is not None  # set by start
        task = self.loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def start(self, host: str, port: int) -> asyncio.base_events.Server:
        self.loop = asyncio.get_running_loop()
        get_runtime()  # the ticker starts with the server, not with the first call
        return await self.loop.create_server(
            lambda: IngestSocket(self), host, port, backlog=2048, reuse_address=True
        )

    async def serve_forever(self, host: str, port: int) -> None:
        server = await self.start(host, port)
        stop = asyncio.Event()
        assert self.loop is not None  # set by start
        for signum in (signal.SIGTERM, signal.SIGINT):
            self.loop.add_signal_handler(signum, stop.set)
        logger.info("ingest (websockets) listening on ws://%s:%d/", host, port)
        async with server:
            await stop.wait()
            # Live calls are cut off; the next start recovers their recordings (as after a
            # crash, the WAV headers are already valid to the last commit).
            server.close()
            for socket in list(self.sockets):
                if socket.transport is not None:
                    socket.transport.abort()
