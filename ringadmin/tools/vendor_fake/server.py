"""A local fake of RingCentral and RingCX on loopback: ``FakeRingCentral``.

Neither vendor can be pointed at a developer's machine or a CI runner, and the failures a
client must survive (expired tokens, single-use refresh tokens, 429s, 503s, slow or broken
answers, webhook handshakes) are hard to provoke on a real account. This server speaks the
published contracts and lets tests inject those failures. Standard library and
``httpx`` only, no Django, so it runs anywhere (``python -m ringadmin.tools.vendor_fake``).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from . import control_api, platform_api, ringcx_api, seed
from .common import ApiError, Request, Response, cx_error, oauth_error, rc_error
from .config import DEFAULT_MEDIA_PRODUCT_BASE_PATH, FakeConfig, normalise_base_path
from .faults import Fault
from .loopback import LoopbackFake, LoopbackServer, read_chunked
from .state import FakeState

logger = logging.getLogger("ringadmin.tools.vendor_fake")

DEFAULT_CLIENT_ID = "fake-client-id"
DEFAULT_CLIENT_SECRET = "fake-client-secret"  # noqa: S105 - the fake's own published credential
DEFAULT_JWT = "fake-jwt"
BANNER_TITLE = "FAKE RingCentral + RingCX (for testing; not a real account)"
MALFORMED_BODY = b'{"records": [{"id": "1", "name": '
_PLATFORM_ROUTES = tuple((route, re.compile(route.pattern)) for route in platform_api.ROUTES)
_RC_DEFAULT_ERRORS = {
    400: ("CMN-101", "Parameter value is invalid"),
    401: ("TokenInvalid", "Access token is invalid or expired"),
    403: ("CMN-408", "Insufficient permissions"),
    404: ("CMN-102", "Resource is not found"),
    409: ("CMN-409", "Conflict"),
    429: ("CMN-301", "Request rate exceeded"),
}
_CX_DEFAULT_ERRORS = {
    401: "access.denied.exception",
    403: "access.denied.exception",
    404: "entity.not.found.exception",
    409: "entity.already.exists.exception",
    429: "too.many.requests.exception",
}


# --- dispatch -----------------------------------------------------------------------------------


def _platform_route(method: str, path: str) -> tuple[platform_api.Route, dict[str, str]] | None:
    for route, pattern in _PLATFORM_ROUTES:
        found = pattern.fullmatch(path)
        if found and route.method == method:
            return route, found.groupdict()
    return None


def _bearer(request: Request) -> str | None:
    scheme, _, token = (request.header("authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _call_platform(
    state: FakeState, route: platform_api.Route, kwargs: dict[str, str], request: Request
) -> Response:
    """Auth, then the route's rate-limit group, then the route; headers on every answer."""
    if route.needs_token:
        token = _bearer(request)
        if not state.platform_token_valid(token):
            headers, _ = state.rate_headers(route.group, count=False)
            if token is None:
                raise rc_error(401, "AGW-401", "Authorization header is not specified", headers)
            with state.lock:
                known = token in state.access_tokens
            message = "Access token expired" if known else "Invalid token"
            raise rc_error(401, "TokenInvalid", message, headers)
    headers, retry_after = state.rate_headers(route.group, count=True)
    if retry_after is not None:
        raise rc_error(
            429,
            "CMN-301",
            "Request rate exceeded",
            {**headers, "Retry-After": str(retry_after)},
        )
    try:
        response = route.handler(state, request, **kwargs)
    except ApiError as exc:
        response = exc.response
    response.headers.update(headers)
    return response


def _fault_response(state: FakeState, fault: Fault, request: Request) -> Response:
    status = fault.status or 200
    headers: dict[str, str] = {}
    if fault.retry_after is not None and not fault.omit_retry_after:
        headers["Retry-After"] = str(fault.retry_after)
    elif status == 429 and not fault.omit_retry_after:
        headers["Retry-After"] = "60"
    if fault.body is not None:
        body = fault.body.encode()
        try:
            json.loads(body)
            headers["Content-Type"] = "application/json"
        except ValueError:
            headers["Content-Type"] = "text/plain; charset=utf-8"
        return Response(status, body, headers)
    if ringcx_api.is_ringcx_path(state, request.path):
        code = _CX_DEFAULT_ERRORS.get(
            status, "internal.server.error" if status >= 500 else "bad.request.exception"
        )
        return cx_error(
            status, code, f"Injected fault: HTTP {status}", request, headers=headers
        ).response
    found = _platform_route(request.method, request.path)
    if found is not None:
        rate_headers, _ = state.rate_headers(found[0].group, count=False)
        headers = {**rate_headers, **headers}
    if request.path.startswith("/restapi/oauth/") and 400 <= status < 500 and status != 429:
        error = {401: "invalid_client"}.get(status, "invalid_request")
        response = oauth_error(status, error, f"Injected fault: HTTP {status}").response
        response.headers.update(headers)
        return response
    code, message = _RC_DEFAULT_ERRORS.get(
        status,
        ("CMN-201", "Service Temporary Unavailable") if status >= 500 else ("CMN-400", "Error"),
    )
    return rc_error(status, code, message, headers).response


def respond(state: FakeState, request: Request) -> Response | None:
    """The answer to one request; None means: drop the connection without answering."""
    if request.path == control_api.PREFIX or request.path.startswith(control_api.PREFIX + "/"):
        try:
            return control_api.dispatch(state, request)
        except ApiError as exc:
            return exc.response
    state.record_request(request)
    fault = state.take_fault(request.method, request.path)
    if fault is not None:
        if fault.delay:
            time.sleep(fault.delay)
        if fault.disconnect:
            return None
        if fault.malformed:
            return Response(200, MALFORMED_BODY, {"Content-Type": "application/json"})
        if fault.status is not None:
            return _fault_response(state, fault, request)
    try:
        found = _platform_route(request.method, request.path)
        if found is not None:
            return _call_platform(state, found[0], found[1], request)
        cx_route = ringcx_api.match(state, request.method, request.path)
        if cx_route is not None:
            handler, kwargs = cx_route
            return handler(state, request, **kwargs)
        if ringcx_api.is_ringcx_path(state, request.path):
            raise cx_error(404, "entity.not.found.exception", "Resource not found", request)
        raise rc_error(404, "AGW-404", f"Resource not found: {request.method} {request.path}")
    except ApiError as exc:
        return exc.response


# --- HTTP plumbing ------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without this each response waits ~40 ms
    # for a delayed ACK (Nagle).
    disable_nagle_algorithm = True
    server_version = "FakeRingCentral/1.0"
    sys_version = ""
    server: LoopbackServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: ``_handle`` logs one redacted line per request instead."""

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return read_chunked(self.rfile)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        started = time.monotonic()
        split = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=split.path or "/",
            query=parse_qs(split.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=self._read_body(),
        )
        fake = cast("FakeRingCentral", self.server.fake)  # the only fake this handler serves
        try:
            response = respond(fake.state, request)
        except Exception:
            logger.exception("fake: unhandled error on %s %s", request.method, request.path)
            response = rc_error(500, "CMN-201", "Service Temporary Unavailable").response
        if response is None:
            self.close_connection = True
            fake.log_line(request.method, request.path, "dropped", started)
            return
        payload = response.encoded()
        self.send_response(response.status)
        headers = {"RCRequestId": f"fake-{int(started * 1e6) % 10**12:012d}", **response.headers}
        if payload and not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = "application/json"
        for name, value in headers.items():
            self.send_header(name, value)
        if response.status not in (204, 304):
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload and self.command != "HEAD" and response.status not in (204, 304):
            self.wfile.write(payload)
        fake.log_line(request.method, request.path, str(response.status), started)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle


# --- the Python API -----------------------------------------------------------------------------


class FakeRingCentral(LoopbackFake):
    """The fake on a loopback port, in a daemon thread, with the control API as methods.

    ``with FakeRingCentral() as fake: httpx.post(f"{fake.url}/restapi/oauth/token", ...)``.
    Every method is thread-safe; state lives in ``self.state`` behind one lock.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        jwt: str = DEFAULT_JWT,
        media_product_base_path: str | Sequence[str] = DEFAULT_MEDIA_PRODUCT_BASE_PATH,
        log: Callable[[str], None] | None = None,
    ) -> None:
        bases = (
            [media_product_base_path]
            if isinstance(media_product_base_path, str)
            else list(media_product_base_path)
        )
        config = FakeConfig(
            client_id=client_id,
            client_secret=client_secret,
            jwt=jwt,
            media_product_base_paths=[normalise_base_path(b) for b in bases],
        )
        self.state = FakeState(config)
        super().__init__(
            host,
            port,
            log,
            handler=_Handler,
            thread_prefix="fake-ringcentral",
            logger=logger,
            log_prefix="fake",
        )

    # lifecycle

    def _on_start(self) -> None:
        self.state.base_url = self.url

    def env(self) -> dict[str, str]:
        """The environment that points ringadmin at this fake."""
        with self.state.lock:
            config = self.state.config
            return {
                "RINGCENTRAL_SERVER_URL": self.url,
                "RINGCX_SERVER_URL": self.url,
                "RINGCENTRAL_CLIENT_ID": config.client_id,
                "RINGCENTRAL_CLIENT_SECRET": config.client_secret,
                "RINGCENTRAL_JWT": config.jwt,
                "RINGCX_MEDIA_PRODUCT_BASE_PATH": config.media_product_base_paths[0],
            }

    # control API mirrors

    def add_fault(
        self,
        *,
        path_regex: str = ".*",
        method: str | None = None,
        status: int | None = None,
        retry_after: int | None = None,
        omit_retry_after: bool = False,
        delay: float = 0.0,
        body: str | None = None,
        malformed: bool = False,
        disconnect: bool = False,
        times: int | None = None,
    ) -> str:
        """Inject a failure on matching vendor requests; returns the fault id."""
        return self.state.add_fault(
            path_regex=path_regex,
            method=method,
            status=status,
            retry_after=retry_after,
            omit_retry_after=omit_retry_after,
            delay=delay,
            body=body,
            malformed=malformed,
            disconnect=disconnect,
            times=times,
        ).id

    def remove_fault(self, fault_id: str) -> bool:
        return self.state.remove_fault(fault_id)

    def clear_faults(self) -> None:
        self.state.clear_faults()

    def faults(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return [f.describe() for f in self.state.faults]

    def expire_tokens(self) -> None:
        self.state.expire_tokens()

    def advance_time(self, seconds: float) -> None:
        """Move the fake's clock forward: token expiry, subscriptions and rate windows follow."""
        self.state.advance_time(seconds)

    def configure(self, **changes: Any) -> dict[str, Any]:
        return self.state.configure(changes)

    @property
    def config(self) -> dict[str, Any]:
        with self.state.lock:
            return self.state.config.public()

    def requests(
        self, path_regex: str | None = None, method: str | None = None
    ) -> list[dict[str, Any]]:
        return self.state.requests(path_regex=path_regex, method=method)

    def clear_requests(self) -> None:
        self.state.clear_requests()

    def notify(self, telephony_session_id: str, **options: Any) -> dict[str, Any]:
        """Deliver a telephony-session event; options as ``FakeState.notify``."""
        return self.state.notify(telephony_session_id=telephony_session_id, **options)

    def start_call(self, agent_extension_id: str, **options: Any) -> dict[str, Any]:
        return self.state.start_call(agent_extension_id=agent_extension_id, **options)

    def end_call(self, telephony_session_id: str, *, notify: bool = True) -> dict[str, Any]:
        return self.state.end_call(telephony_session_id, notify=notify)

    def calls(self) -> list[dict[str, Any]]:
        return self.state.list_calls()

    def media_products(self) -> list[dict[str, Any]]:
        return self.state.media_product_list()

    def subscriptions(self) -> list[dict[str, Any]]:
        return self.state.subscriptions_detail()

    def deliveries(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return list(self.state.deliveries)

    def snapshot(self) -> dict[str, Any]:
        return self.state.snapshot()

    def reset(self) -> None:
        self.state.reset()


# --- running it by hand -------------------------------------------------------------------------


def banner(fake: FakeRingCentral) -> str:
    env = fake.env()
    exports = " ".join(f"{name}={value}" for name, value in env.items())
    return "\n".join(
        [
            "=" * len(BANNER_TITLE),
            BANNER_TITLE,
            "=" * len(BANNER_TITLE),
            f"Listening on {fake.url}",
            "Point ringadmin at it with:",
            f"  {exports}",
            f"Account {seed.ACCOUNT_ID}; RingCX main account {seed.RINGCX_MAIN_ACCOUNT_ID}, "
            f"sub-accounts {', '.join(fake.config['ringcx_sub_account_ids'])}",
            f"Control API: {fake.url}/_fake/state (faults, notify, calls, reset: see the README)",
            "Ctrl-C stops it.",
        ]
    )


def run_until_interrupted(fake: FakeRingCentral, write: Callable[[str], None]) -> None:
    """Start, print the banner, and serve until Ctrl-C."""
    fake.start()
    write(banner(fake))
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        write("Stopping the fake.")
    finally:
        fake.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=BANNER_TITLE)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    parser.add_argument("--jwt", default=DEFAULT_JWT)
    parser.add_argument(
        "--media-product-base-path",
        action="append",
        help=f"repeatable; default {DEFAULT_MEDIA_PRODUCT_BASE_PATH}",
    )
    args = parser.parse_args(argv)
    fake = FakeRingCentral(
        host=args.host,
        port=args.port,
        client_id=args.client_id,
        client_secret=args.client_secret,
        jwt=args.jwt,
        media_product_base_path=args.media_product_base_path or DEFAULT_MEDIA_PRODUCT_BASE_PATH,
        log=lambda line: print(line, flush=True),
    )
    run_until_interrupted(fake, lambda text: print(text, flush=True))
