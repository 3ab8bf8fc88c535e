"""ASGI entry point: HTTP to Django, the RingCX ingest socket at ``/``, browsers under ``/ws/``.

RingCX only accepts ``wss://host[:port]`` as a streaming URL, so its socket must live at the
root path. It sends no Origin header and authenticates with the profile secret, so it is kept
apart from the browsers' sockets, which need a session and a same-host Origin.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ringadmin.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from monitoring.routing import websocket_urlpatterns as browser_socket_routes  # noqa: E402
from streaming.routing import ingest_application  # noqa: E402

browser_sockets = AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(browser_socket_routes)))


async def websocket_router(scope, receive, send) -> None:
    """``/ws/...`` → browsers; everything else → the RingCX ingest (which accepts only ``/``)."""
    if scope["path"].startswith("/ws/"):
        await browser_sockets(scope, receive, send)
    else:
        await ingest_application(scope, receive, send)


application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket_router})
