"""Plumbing shared by the RingCentral and RingCX clients.

One long-lived ``httpx.Client`` per vendor (connection reuse, one timeout policy), one
request helper that turns every failure into a typed ``VendorError`` and logs one line per
call, an in-process registry of the ``X-Rate-Limit-*`` headers that paces calls before the
vendor answers 429, and the token lock used by both ``httpx.Auth`` classes.
"""

from __future__ import annotations

import hashlib
import json as jsonlib
import logging
import math
import re
import threading
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from django.conf import settings
from django.core.cache import cache as default_cache
from django.core.signals import setting_changed

from ringadmin.logging import redact_text
from ringadmin.retry import parse_retry_after
from ringadmin.vendors.errors import (
    DEFAULT_RETRY_AFTER_SECONDS,
    AuthFailed,
    NotFound,
    RateLimited,
    Rejected,
    Unavailable,
    Vendor,
    VendorError,
)

logger = logging.getLogger("ringadmin.vendors")

CACHE_PREFIX = "vendors"
USER_AGENT = "ringadmin/0.1 (+httpx)"
LOW_REMAINING_FRACTION = 0.10  # warn when a group has this share of its budget left
T = TypeVar("T")

# --- Clients ---------------------------------------------------------------------------------

_clients: dict[str, httpx.Client] = {}
_clients_lock = threading.RLock()  # reentrant: the RingCX factory builds the platform client


def http_timeout() -> httpx.Timeout:
    """The timeout of every vendor call: connect, read, write and pool, from the settings."""
    return httpx.Timeout(float(getattr(settings, "VENDOR_HTTP_TIMEOUT_SECONDS", 10.0)))


def new_client(*, base_url: str, auth: httpx.Auth | None = None) -> httpx.Client:
    """A client with the project's timeout and headers; redirects are not followed."""
    return httpx.Client(
        base_url=base_url.rstrip("/"),
        auth=auth,
        timeout=http_timeout(),
        headers={"Accept": "application/json", "User-Agent": USER_AGENT},
        follow_redirects=False,
    )


def shared_client(name: str, factory: Callable[[], httpx.Client]) -> httpx.Client:
    """The process's long-lived client called ``name``, built by ``factory`` on first use."""
    client = _clients.get(name)
    if client is not None:
        return client
    with _clients_lock:
        client = _clients.get(name)
        if client is None:
            client = _clients[name] = factory()
        return client


def reset_clients() -> None:
    """Close the shared clients and forget rate-limit state; the next call reads settings anew.

    For tests, and after the vendor settings change (done automatically on Django's
    ``setting_changed``).
    """
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()
    rate_limits.reset()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith(("RINGCENTRAL_", "RINGCX_", "VENDOR_")):
        reset_clients()


setting_changed.connect(_on_setting_changed, dispatch_uid="ringadmin.vendors.reset_clients")


def fingerprint(*parts: str) -> str:
    """A short stable digest naming cached state without putting credentials in the key."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


# --- Rate limits -----------------------------------------------------------------------------


@dataclass
class _Group:
    vendor: str
    limit: int
    remaining: int
    window: float
    observed_at: float  # monotonic
    observed_wall: datetime
    window_started_at: float | None  # monotonic, when we saw the first request of a window


class RateLimitRegistry:
    """What the vendor's ``X-Rate-Limit-*`` headers last said, per group, in this process.

    RingCentral counts requests per group (Light, Medium, Heavy, Auth) over a window. The
    registry learns which group each route belongs to from the answers, and before a call to
    a group with 0 or 1 requests left it sleeps until the window probably reset, bounded by
    ``2 * window / limit`` and ``VENDOR_RATE_LIMIT_MAX_PAUSE_SECONDS``, so that callers pace
    themselves instead of meeting 429 (which RingCentral punishes with a 60 s lock-out).
    ``sleep`` and ``clock`` are attributes so that tests can replace them.
    """

    def __init__(
        self,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sleep = sleep
        self.clock = clock
        self._lock = threading.Lock()
        self._groups: dict[str, _Group] = {}
        self._routes: dict[str, str] = {}

    def reset(self) -> None:
        with self._lock:
            self._groups.clear()
            self._routes.clear()

    @staticmethod
    def group_key(*, vendor: str, group: str) -> str:
        return group if vendor == "ringcentral" else f"{vendor}:{group}"

    def observe(self, *, vendor: str, route: str, headers: httpx.Headers) -> None:
        """Record the rate-limit headers of one answer (absent headers change nothing)."""
        group = headers.get("X-Rate-Limit-Group", "").strip()
        limit = _header_number(headers.get("X-Rate-Limit-Limit"))
        remaining = _header_number(headers.get("X-Rate-Limit-Remaining"))
        window = _header_number(headers.get("X-Rate-Limit-Window"))
        if not group or limit is None or remaining is None:
            return
        key = self.group_key(vendor=vendor, group=group)
        now = self.clock()
        with self._lock:
            self._routes[route] = key
            previous = self._groups.get(key)
            limit_i, remaining_i = int(limit), int(remaining)
            if remaining_i >= limit_i - 1 or (
                previous is not None and remaining_i > previous.remaining
            ):
                started: float | None = now  # a fresh window (or one that reset since last time)
            else:
                started = previous.window_started_at if previous else None
            self._groups[key] = _Group(
                vendor=vendor,
                limit=limit_i,
                remaining=remaining_i,
                window=float(window) if window else 60.0,
                observed_at=now,
                observed_wall=datetime.now(tz=UTC),
                window_started_at=started,
            )
        if limit_i > 0 and remaining_i <= math.floor(limit_i * LOW_REMAINING_FRACTION):
            logger.warning(
                "%s rate limit group %s: %d of %d requests left in its %.0f s window",
                vendor,
                group,
                remaining_i,
                limit_i,
                float(window or 60),
                extra={"vendor": vendor, "rate_group": group, "remaining": remaining_i},
            )

    def pause_for(self, *, route: str) -> float:
        """Seconds to wait before calling ``route`` so as not to exceed its group's budget."""
        max_pause = float(getattr(settings, "VENDOR_RATE_LIMIT_MAX_PAUSE_SECONDS", 30.0))
        if max_pause <= 0:
            return 0.0
        with self._lock:
            key = self._routes.get(route)
            group = self._groups.get(key) if key else None
            if group is None or group.remaining > 1 or group.limit <= 0:
                return 0.0
            now = self.clock()
            if now - group.observed_at >= group.window:
                return 0.0  # the window has certainly turned over since
            bound = min(2 * group.window / group.limit, max_pause)
            if group.window_started_at is None:
                return bound
            return max(0.0, min(group.window_started_at + group.window - now, bound))

    def wait_before(self, *, vendor: str, route: str) -> float:
        """Sleep as ``pause_for`` says; returns the seconds slept."""
        pause = self.pause_for(route=route)
        if pause > 0:
            logger.info(
                "%s: pausing %.1f s before %s to stay inside the rate limit",
                vendor,
                pause,
                route,
                extra={"vendor": vendor, "pause_seconds": round(pause, 3)},
            )
            self.sleep(pause)
        return pause

    def status(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {
                key: {
                    "vendor": g.vendor,
                    "limit": g.limit,
                    "remaining": g.remaining,
                    "window_seconds": g.window,
                    "observed_at": g.observed_wall,
                }
                for key, g in self._groups.items()
            }


rate_limits = RateLimitRegistry()


def rate_limit_status() -> dict[str, dict[str, Any]]:
    """The last seen budget of each rate-limit group, for the admin's health page.

    Keys are RingCentral's group names (``Light``, ``Medium``, ``Heavy``, ``Auth``); groups
    reported by RingCX, if it ever sends the headers, are prefixed ``ringcx:``. Values:
    ``vendor``, ``limit``, ``remaining``, ``window_seconds``, ``observed_at`` (aware UTC).
    """
    return rate_limits.status()


def _header_number(value: str | None) -> float | None:
    if value is None:
        return None
    match = re.search(r"\d+(?:\.\d+)?", value)
    return float(match.group()) if match else None


# --- Requests --------------------------------------------------------------------------------


def request(
    client: httpx.Client,
    method: str,
    path: str,
    *,
    vendor: Vendor,
    route: str | None = None,
    params: Mapping[str, Any] | None = None,
    json: Any = None,
    data: Mapping[str, Any] | None = None,
    auth: Any = httpx.USE_CLIENT_DEFAULT,
    read_body: bool = True,
) -> Any:
    """Send one call and return its JSON body (``None`` when empty), or raise a VendorError.

    ``route`` names the endpoint (``"GET /restapi/v1.0/account/~/extension/{id}/device"``) so
    rate-limit pacing applies per endpoint whatever the ids; it defaults to method and path.
    ``read_body=False`` returns ``None`` for any 2xx, for endpoints that answer with text.
    """
    route = route or f"{method} {path}"
    rate_limits.wait_before(vendor=vendor, route=route)
    started = time.perf_counter()
    response: httpx.Response | None = None
    try:
        try:
            response = client.request(method, path, params=params, json=json, data=data, auth=auth)
        except httpx.TimeoutException as exc:
            raise Unavailable(
                f"no answer from {_host(client)} within {_timeout_text(client)}",
                vendor=vendor,
            ) from exc
        except httpx.ConnectError as exc:
            raise Unavailable(
                f"could not connect to {_host(client)} ({exc})", vendor=vendor
            ) from exc
        except httpx.UnsupportedProtocol as exc:
            raise Unavailable(
                f"{client.base_url} is not an http(s) URL; check RINGCENTRAL_SERVER_URL and "
                "RINGCX_SERVER_URL",
                vendor=vendor,
            ) from exc
        except httpx.TransportError as exc:
            raise Unavailable(
                f"the connection to {_host(client)} failed ({type(exc).__name__}: {exc})",
                vendor=vendor,
            ) from exc
        except httpx.HTTPError as exc:
            raise Unavailable(f"{type(exc).__name__}: {exc}", vendor=vendor) from exc
        rate_limits.observe(vendor=vendor, route=route, headers=response.headers)
        try:
            response.raise_for_status()
        except httpx.HTTPStatusError as exc:
            raise error_from_response(response, vendor=vendor) from exc
        result = _json_body(response, vendor=vendor) if read_body else None
    except VendorError as exc:
        _log_call(vendor, method, path, response, started, error=exc)
        raise
    _log_call(vendor, method, path, response, started)
    return result


def _json_body(response: httpx.Response, *, vendor: Vendor) -> Any:
    if not response.content.strip():
        return None
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unavailable(
            f"answered HTTP {response.status_code} with a body that is not valid JSON "
            f"({len(response.content)} bytes of {response.headers.get('Content-Type', '?')})",
            vendor=vendor,
            status=response.status_code,
        ) from exc


def _log_call(
    vendor: str,
    method: str,
    path: str,
    response: httpx.Response | None,
    started: float,
    *,
    error: VendorError | None = None,
) -> None:
    elapsed_ms = round((time.perf_counter() - started) * 1000)
    status = response.status_code if response is not None else None
    extra = {
        "vendor": vendor,
        "http_method": method,
        "http_path": path,
        "http_status": status,
        "duration_ms": elapsed_ms,
    }
    if error is None:
        logger.info("%s %s %s %s %dms", vendor, method, path, status, elapsed_ms, extra=extra)
        return
    extra["error_class"] = type(error).__name__
    extra["error_code"] = error.error_code
    logger.warning(
        "%s %s %s %s %dms %s: %s",
        vendor,
        method,
        path,
        status if status is not None else "-",
        elapsed_ms,
        type(error).__name__,
        redact_text(error.detail),
        extra=extra,
    )


def _host(client: httpx.Client) -> str:
    return client.base_url.host or str(client.base_url)


def _timeout_text(client: httpx.Client) -> str:
    read = client.timeout.read
    return f"{read:g} s (VENDOR_HTTP_TIMEOUT_SECONDS)" if read else "the timeout"


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float:
    """``Retry-After`` as seconds (a number or an HTTP date); 30 s when absent or unreadable,
    as RingCentral advises."""
    asked = parse_retry_after(value, now=now)
    return DEFAULT_RETRY_AFTER_SECONDS if asked is None else asked


@dataclass(frozen=True)
class ErrorBody:
    """The vendor's own account of an error, whichever of its shapes it used."""

    code: str | None
    message: str | None
    errors: tuple[Mapping[str, Any], ...]


def parse_error_body(response: httpx.Response) -> ErrorBody:
    """Read the platform (``errorCode``/``message``/``errors``), OAuth (``error``/
    ``error_description``) and RingCX (``errorCode``/``generalMessage``) error shapes."""
    try:
        body = response.json() if response.content else None
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        text = response.text.strip()[:200] if response.content else ""
        return ErrorBody(code=None, message=text or None, errors=())
    # Platform errors list ``errors``; RingCX lists per-field problems in ``details``.
    raw_errors = body.get("errors") or body.get("details")
    errors = (
        tuple(e for e in raw_errors if isinstance(e, Mapping))
        if isinstance(raw_errors, list)
        else ()
    )
    code = body.get("errorCode") or body.get("error") or body.get("code")
    message = (
        body.get("message")
        or body.get("generalMessage")
        or body.get("error_description")
        or body.get("detail")
    )
    if not code and errors:
        code = errors[0].get("errorCode")
    if not message and errors:
        message = errors[0].get("message")
    if isinstance(message, list | dict):
        message = jsonlib.dumps(message)[:300]
    if isinstance(body.get("details"), str) and message:
        message = f"{message} ({body['details']})"
    return ErrorBody(
        code=str(code) if code else None,
        message=str(message) if message else None,
        errors=errors,
    )


def error_from_response(response: httpx.Response, *, vendor: Vendor) -> VendorError:
    """The typed error for a non-2xx answer (not raised, so the caller can chain it)."""
    status = response.status_code
    body = parse_error_body(response)
    detail = body.message or f"{response.request.method} {response.request.url.path} " + (
        response.reason_phrase or "failed"
    )
    kwargs: dict[str, Any] = {
        "vendor": vendor,
        "status": status,
        "error_code": body.code,
        "errors": body.errors,
    }
    if status == 429:
        return RateLimited(
            detail, retry_after=retry_after_seconds(response.headers.get("Retry-After")), **kwargs
        )
    if status in (401, 403):
        return AuthFailed(detail, **kwargs)
    if status == 404:
        return NotFound(detail, **kwargs)
    if status == 408 or status >= 500:
        asked = response.headers.get("Retry-After")
        retry_after = retry_after_seconds(asked) if asked and asked.strip() else None
        return Unavailable(detail, retry_after=retry_after, **kwargs)
    if 400 <= status < 500:
        return Rejected(detail, **kwargs)
    location = response.headers.get("Location", "")
    return Unavailable(
        f"unexpected HTTP {status}{f' to {location}' if location else ''}; check the "
        "vendor's server URL setting",
        **kwargs,
    )


def parse(vendor: Vendor, what: str, build: Callable[[Any], T], data: Any) -> T:
    """Build typed data from a 2xx body; a body of the wrong shape is the vendor's fault."""
    try:
        return build(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise Unavailable(
            f"answered with an unexpected {what} ({type(exc).__name__}: {exc})", vendor=vendor
        ) from exc


# --- Token locking ---------------------------------------------------------------------------

_thread_locks: dict[str, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


def _thread_lock(name: str) -> threading.Lock:
    with _thread_locks_guard:
        return _thread_locks.setdefault(name, threading.Lock())


@contextmanager
def exclusive(
    name: str,
    *,
    vendor: Vendor,
    ttl: float,
    cache: Any = None,
    poll_seconds: float = 0.05,
) -> Iterator[None]:
    """Hold ``name`` against other threads (a lock) and other processes (``cache.add``).

    Token refreshes run inside it so that two workers never spend the same single-use refresh
    token or exchange twice. The cache lock expires after ``ttl`` seconds, so a process that
    died while holding it delays the others by at most that long.
    """
    cache = cache if cache is not None else default_cache
    lock_key = f"{name}:lock"
    owner = uuid.uuid4().hex
    ttl_int = max(1, math.ceil(ttl))
    with _thread_lock(name):
        deadline = time.monotonic() + ttl_int + 1
        while not cache.add(lock_key, owner, timeout=ttl_int):
            if time.monotonic() > deadline:
                raise Unavailable(
                    "another worker has been renewing the access token for too long",
                    vendor=vendor,
                )
            time.sleep(poll_seconds)  # another process holds it; it releases within ttl
        try:
            yield
        finally:
            if cache.get(lock_key) == owner:
                cache.delete(lock_key)


class CachedTokenAuth(httpx.Auth):
    """A bearer token kept in Django's cache (shared by every worker) and renewed under
    ``exclusive``: the cache is re-read inside the lock, so concurrent callers in any process
    cause one renewal. A 401 renews once and retries the request once.

    Subclasses set ``vendor``, ``refresh_margin`` and ``cache_key`` and say how to renew
    (``_renew``) and how long the renewal may hold the lock (``_lock_ttl``).
    """

    requires_response_body = True
    vendor: Vendor
    refresh_margin: float  # renew this long before the token expires
    cache_key: str
    _cache: Any
    _clock: Callable[[], float]

    # httpx calls this around every request of a client that uses this auth.
    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.access_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            response.read()
            request.headers["Authorization"] = f"Bearer {self.access_token(rejected=token)}"
            yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        raise NotImplementedError(f"{type(self).__name__} is for the synchronous httpx.Client only")
        yield request  # pragma: no cover

    def access_token(self, *, rejected: str | None = None) -> str:
        """A valid access token; ``rejected`` is one the API just refused (renew past it)."""
        entry = self._cache.get(self.cache_key)
        if self._usable(entry, rejected):
            return str(entry["access_token"])
        with exclusive(self.cache_key, vendor=self.vendor, ttl=self._lock_ttl(), cache=self._cache):
            entry = self._cache.get(self.cache_key)  # another worker may have renewed it
            if self._usable(entry, rejected):
                return str(entry["access_token"])
            return str(self._renew(entry)["access_token"])

    def forget(self) -> None:
        """Drop the cached token (after credentials change)."""
        self._cache.delete(self.cache_key)

    def _usable(self, entry: Mapping[str, Any] | None, rejected: str | None) -> bool:
        return bool(
            entry
            and entry.get("access_token")
            and entry["access_token"] != rejected
            and self._clock() < entry.get("expires_at", 0) - self.refresh_margin
        )

    def _lock_ttl(self) -> float:
        raise NotImplementedError

    def _renew(self, entry: Mapping[str, Any] | None) -> dict[str, Any]:
        raise NotImplementedError
