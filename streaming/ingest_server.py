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
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import sys

logger = logging.getLogger("streaming.ingest_server")

DENIAL_EXTENSION = "websocket.http.response"


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
            self.sendCloseFrame(
                code=int(message.get("code") or 1000), reasonUtf8=reason or None, isReply=False
            )
            return None
        if kind == "websocket.http.response.body":
            if message.get("more_body") or not hasattr(self, "handshake_deferred"):
                return None
            reason = bytes(message.get("body", b"")).decode("utf-8", "replace").strip()
            self.handshake_deferred.errback(
                ConnectionDeny(
                    code=getattr(self, "_denial_status", 403), reason=reason[:100] or "Denied"
                )
            )
            del self.handshake_deferred
            self.server.protocol_disconnected(self)
            return None
        return original(self, message)

    WebSocketProtocol.handle_reply = handle_reply
    WebSocketProtocol._ringadmin_denial = True


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
    # Everything imported so far lives for the whole process: keep the GC from rescanning it
    # (a full collection otherwise pauses every call for tens of milliseconds).
    gc.collect()
    gc.freeze()
    if server == "websockets":
        import asyncio

        from streaming.ingest.ws_server import IngestServer

        ingest = IngestServer(max_size=max_size)
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
