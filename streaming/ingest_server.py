"""Run the application server for the ingest: ``python -m streaming.ingest_server``.

Before listening it recovers recordings that a previous process left interrupted. It serves
the project's ``ASGI_APPLICATION`` (HTTP, the RingCX socket at ``/``, browser sockets) with
daphne (default) or uvicorn (``--server uvicorn``). ``--server websockets`` serves the RingCX
socket alone on the bare ``websockets`` library, the fastest under many concurrent calls: run
it as a second process on its own port, next to a web server for pages and browser sockets.

daphne can only refuse a WebSocket handshake with 403; RingCX retries 5xx answers and not
4xx, so an overloaded server must answer 503. This launcher teaches daphne the ASGI
"WebSocket Denial Response" extension (which uvicorn has natively) so the ingest can answer
403, 404 or 503 as it decides, and lets it close open sockets with the protocol's codes
(1003, 1008, 1009, 1011) and a reason, which daphne's WebSocket library otherwise refuses.

Every server gets the same bound on a client's HTTP request line and headers
(``INGEST_HANDSHAKE_TIMEOUT_SECONDS``, from the connection or the end of the previous request):
neither daphne nor uvicorn has one, so a client sending half a request held a socket forever.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import sys
from http import HTTPStatus

logger = logging.getLogger("streaming.ingest_server")

DENIAL_EXTENSION = "websocket.http.response"
MAX_HEADER_BYTES = 16 * 1024  # a request line and headers (what Twisted and h11 allow)


def _patch_daphne_denial_response() -> None:
    from autobahn.websocket import ConnectionDeny
    from daphne.ws_protocol import WebSocketProtocol

    if getattr(WebSocketProtocol, "_ringadmin_denial", False):
        return
    original = WebSocketProtocol.handle_reply

    def handle_reply(self, message):
        kind = message.get("type")
        if kind == "websocket.http.response.start":
            self._denial_status = int(message.get("status", 403))
            return None
        if kind == "websocket.close" and self.state == self.STATE_OPEN:
            # autobahn's sendClose refuses protocol codes such as 1003/1008/1009/1011 from a
            # server (and daphne drops the reason): send the close frame as asked.
            reason = str(message.get("reason") or "").encode("utf-8")[:123]
            reason = reason.decode("utf-8", "ignore").encode()  # never a cut character
            self.sendCloseFrame(
                code=int(message.get("code") or 1000), reasonUtf8=reason or None, isReply=False
            )
            return None
        if kind == "websocket.http.response.body":
            if message.get("more_body") or not hasattr(self, "handshake_deferred"):
                return None
            # autobahn writes the reason as the HTTP reason phrase: never the ingest's text,
            # which may quote the client's query (a CR LF there would add response headers).
            status = getattr(self, "_denial_status", 403)
            try:
                phrase = HTTPStatus(status).phrase
            except ValueError:
                phrase = "Refused"
            self.handshake_deferred.errback(ConnectionDeny(code=status, reason=phrase))
            del self.handshake_deferred
            self.server.protocol_disconnected(self)
            return None
        return original(self, message)

    WebSocketProtocol.handle_reply = handle_reply
    WebSocketProtocol._ringadmin_denial = True


def _bound_daphne_request_time(seconds: float) -> None:
    """Give each HTTP request on daphne ``seconds`` for its request line and headers.

    daphne has no option for this: ``http_timeout`` counts from a complete request, and the
    WebSocket timeouts (``websocket_handshake_timeout``, ``websocket_connect_timeout``) start
    after the upgrade. Twisted's own channel timeout (``HTTPFactory.timeOut``, 60 s) is an idle
    timeout that every byte resets, so a client trickling its headers stays for hours. The
    channel below adds an absolute deadline, armed when the connection opens (and again after
    each response, for the next request on a kept-alive connection) and disarmed when the
    headers are complete; a WebSocket upgrade hands the connection to autobahn after that.
    """
    from daphne.http_protocol import HTTPFactory
    from twisted.internet.protocol import connectionDone
    from twisted.web import http

    if getattr(HTTPFactory, "_ringadmin_header_deadline", None) == seconds:
        return

    class HeaderDeadlineChannel(http.HTTPChannel):
        _header_deadline = None

        def connectionMade(self) -> None:
            super().connectionMade()
            self._arm()

        def allHeadersReceived(self) -> None:
            self._disarm()
            super().allHeadersReceived()

        def requestDone(self, request) -> None:
            if self.persistent:  # before: a pipelined request's headers may complete inside
                self._arm()
            super().requestDone(request)

        def connectionLost(self, reason=connectionDone) -> None:
            self._disarm()
            super().connectionLost(reason)

        def _arm(self) -> None:
            self._disarm()
            self._header_deadline = self.callLater(seconds, self._headers_too_slow)

        def _disarm(self) -> None:
            if self._header_deadline is not None and self._header_deadline.active():
                self._header_deadline.cancel()
            self._header_deadline = None

        def _headers_too_slow(self) -> None:
            self._header_deadline = None
            assert self.transport is not None  # armed only while connected
            self.transport.abortConnection()

    def build_channel(factory):
        # What twisted's HTTPFactory.protocol builds (a channel that may become HTTP/2 after
        # TLS negotiation), around the channel above.
        return http._GenericHTTPChannelProtocol(HeaderDeadlineChannel())

    HTTPFactory.protocol = build_channel
    HTTPFactory._ringadmin_header_deadline = seconds


def _uvicorn_protocol_with_request_deadline(seconds: float, max_header_bytes: int):
    """uvicorn's HTTP protocol with ``seconds`` for each request line and headers (uvicorn only
    times out idle kept-alive connections, and only after a first response) and at most
    ``max_header_bytes`` of them (httptools, unlike h11, sets no limit)."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    # AutoHTTPProtocol is whichever protocol class uvicorn picked at import (httptools or h11).
    class RequestDeadlineProtocol(AutoHTTPProtocol):  # type: ignore[valid-type,misc]
        _deadline = None
        _cycle_at_arm = None
        _header_bytes = 0

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self._deadline is not None and self.cycle is self._cycle_at_arm:
                self._header_bytes += len(data)
                if self._header_bytes > max_header_bytes:
                    self._too_slow_or_big()
                    return
            super().data_received(data)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()  # the next request on a kept-alive connection

        def connection_lost(self, exc) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            self._cycle_at_arm, self._header_bytes = self.cycle, 0
            self._deadline = self.loop.call_later(seconds, self._expired)

        def _expired(self) -> None:
            self._deadline = None
            # A new request began (its headers complete), or it became a WebSocket: in time.
            if self.cycle is not self._cycle_at_arm or self.transport.get_protocol() is not self:
                return
            self._too_slow_or_big()

        def _too_slow_or_big(self) -> None:
            if not self.transport.is_closing():
                self.transport.abort()

    return RequestDeadlineProtocol


class AdvertiseDenialResponse:
    """Tells the ingest (through the scope) that denial responses are available."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "websocket":
            scope = {
                **scope,
                "extensions": {**(scope.get("extensions") or {}), DENIAL_EXTENSION: {}},
            }
        await self.app(scope, receive, send)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--server", choices=["daphne", "uvicorn", "websockets"], default=None)
    parser.add_argument(
        "--no-recover", action="store_true", help="skip recovering interrupted recordings at start"
    )
    parser.add_argument(
        "--proxy-headers",
        action="store_true",
        help="trust X-Forwarded-For/-Proto from a reverse proxy",
    )
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ringadmin.settings")
    import django

    django.setup()
    from django.conf import settings

    server = args.server or settings.INGEST_SERVER
    if not args.no_recover:
        # After django.setup(): recovery reads and writes models.
        from streaming.recovery import recordings_recover

        for result in recordings_recover():
            print(
                f"recovered call {result.ringcx_call_id}: {result.seconds:.1f} s "
                f"({result.error or 'playable'})",
                file=sys.stderr,
            )

    from channels.routing import get_default_application

    # The project's wiring names what is served (the setting), so streaming imports no other
    # app; the ingest socket is the part of it that streaming provides.
    application = get_default_application()

    # The ingest closes frames over its limit with 1009 and a reason; the server's own cap sits
    # above it so that can happen, and still stops absurd frames before they reach memory.
    max_size = settings.INGEST_MAX_MESSAGE_BYTES * 4
    handshake_timeout = settings.INGEST_HANDSHAKE_TIMEOUT_SECONDS
    # Everything imported so far lives for the whole process: keep the GC from rescanning it
    # (a full collection otherwise pauses every call for tens of milliseconds).
    gc.collect()
    gc.freeze()
    if server == "websockets":
        import asyncio

        # Only for this server (after django.setup(): the ingest application uses models).
        from streaming.ingest.ws_server import IngestServer

        ingest = IngestServer(max_size=max_size, handshake_timeout=handshake_timeout)
        with contextlib.suppress(KeyboardInterrupt):
            try:
                import uvloop
            except ImportError:  # the uvicorn extra is not installed: asyncio's own loop
                asyncio.run(ingest.serve_forever(args.host, args.port))
            else:
                uvloop.run(ingest.serve_forever(args.host, args.port))
        return
    if server == "uvicorn":
        import uvicorn

        uvicorn.run(
            application,
            host=args.host,
            port=args.port,
            http=_uvicorn_protocol_with_request_deadline(handshake_timeout, MAX_HEADER_BYTES),
            ws="websockets",
            ws_max_size=max_size,
            lifespan="off",
            log_level="warning",
            log_config=None,  # settings.LOGGING's handler and format, not uvicorn's own
            proxy_headers=args.proxy_headers,
            access_log=False,
        )
        return
    from daphne.endpoints import build_endpoint_description_strings
    from daphne.server import Server

    _patch_daphne_denial_response()
    _bound_daphne_request_time(handshake_timeout)
    proxy = args.proxy_headers
    Server(
        application=AdvertiseDenialResponse(application),
        endpoints=build_endpoint_description_strings(host=args.host, port=args.port),
        websocket_max_message_size=max_size,
        websocket_max_frame_size=max_size,
        websocket_timeout=int(settings.INGEST_MAX_CALL_SECONDS) + 600,
        proxy_forwarded_address_header="X-Forwarded-For" if proxy else None,
        proxy_forwarded_port_header="X-Forwarded-Port" if proxy else None,
        proxy_forwarded_proto_header="X-Forwarded-Proto" if proxy else None,
        verbosity=0,
    ).run()


if __name__ == "__main__":
    main()
