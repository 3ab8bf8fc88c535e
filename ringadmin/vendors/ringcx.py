"""RingCX media product API (streaming profiles) and the RingCX token it needs.

RingCX accepts its own short-lived bearer token, obtained by exchanging a RingCentral
platform token (about 5 exchanges a minute allowed) and renewed with its refresh token. Only
services call these functions; each accepts ``client=`` for tests.

A product is created with ``POST`` and replaced with ``PUT`` on the base path
(``RINGCX_MEDIA_PRODUCT_BASE_PATH``), its ids in the JSON body; it is read with ``GET`` and
removed with ``DELETE`` on ``{base}/account/{subAccountId}/type/{productType}/id/{productId}``.
RingCX refuses any other combination, and has no list.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import httpx
from django.conf import settings
from django.core.cache import cache as default_cache

from ringadmin.vendors import http
from ringadmin.vendors.errors import (
    AuthFailed,
    NotFound,
    RateLimited,
    Rejected,
    Vendor,
)
from ringadmin.vendors.http import rate_limit_status, reset_clients
from ringadmin.vendors.ringcentral import (
    PlatformAuth,
    platform_auth,
    require_configured,
    vendors_configured,
)

logger = logging.getLogger("ringadmin.vendors")

VENDOR: Vendor = "ringcx"
EXCHANGE_PATH = "/api/auth/login/rc/accesstoken"
REFRESH_PATH = "/api/auth/token/refresh"
# RingCX tokens live about 5 minutes; without an expiry in the answer, count on 270 s.
DEFAULT_TOKEN_SECONDS = 270
REFRESH_MARGIN_SECONDS = 30  # refresh this long before the token expires
# How long a refresh token is worth keeping: its life is not documented, and a refused
# refresh costs one request before falling back to an exchange.
KEEP_REFRESH_TOKEN_SECONDS = 3600
EXCHANGE_LIMIT = 5  # exchanges of a platform token per EXCHANGE_WINDOW_SECONDS
EXCHANGE_WINDOW_SECONDS = 60

ProductType = Literal["QUEUE", "CAMPAIGN"]
PRODUCT_TYPES = ("QUEUE", "CAMPAIGN")


# --- Client ----------------------------------------------------------------------------------


def ringcx_client() -> httpx.Client:
    """The process's long-lived RingCX client, created from the settings on first use."""
    return http.shared_client(VENDOR, _build_ringcx_client)


def _build_ringcx_client() -> httpx.Client:
    require_configured(vendor=VENDOR)
    client = http.new_client(base_url=settings.RINGCX_SERVER_URL)
    client.auth = RingCXAuth(client=client, platform=platform_auth())
    return client


class RingCXAuth(http.CachedTokenAuth):
    """Bearer tokens for RingCX, shared by every worker through Django's cache.

    A token is renewed with its refresh token ``REFRESH_MARGIN_SECONDS`` before it expires;
    a platform token is exchanged only when there is no refresh token or RingCX refused it.
    Exchanges are counted in the cache (all workers together) and refused locally with
    ``RateLimited`` once ``EXCHANGE_LIMIT`` were made within ``EXCHANGE_WINDOW_SECONDS``.
    A 401 from a media product call renews once and retries once. Renewal runs under
    ``http.exclusive`` (thread lock plus cache lock) and re-reads the cache inside it.
    """

    vendor = VENDOR
    refresh_margin = REFRESH_MARGIN_SECONDS

    def __init__(
        self,
        *,
        client: httpx.Client,
        platform: PlatformAuth,
        cache: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._platform = platform
        self._cache = cache if cache is not None else default_cache
        self._clock = clock
        key = http.fingerprint(str(client.base_url), platform.cache_key)
        self.cache_key = f"{http.CACHE_PREFIX}:ringcx:token:{key}"
        self.exchanges_key = f"{http.CACHE_PREFIX}:ringcx:exchanges:{key}"

    def __repr__(self) -> str:
        return f"RingCXAuth(server={self._client.base_url!s})"

    def exchanges_in_window(self) -> int:
        """Exchanges made by all workers in the last ``EXCHANGE_WINDOW_SECONDS``."""
        return len(self._recent_exchanges())

    def _lock_ttl(self) -> float:
        # Worst case inside the lock: a refused refresh, a platform renewal, two exchanges.
        return 4 * (self._client.timeout.read or 10) + 5

    def _renew(self, entry: Mapping[str, Any] | None) -> dict[str, Any]:
        refresh_token = entry.get("refresh_token") if entry else None
        if refresh_token:
            try:
                return self._store(
                    self._post(REFRESH_PATH, {"refresh_token": refresh_token}),
                    previous_refresh=refresh_token,
                    kind="refresh",
                )
            except (AuthFailed, Rejected, NotFound) as exc:
                logger.info(
                    "ringcx refresh token refused (%s); exchanging a platform token",
                    exc.error_code or exc.status,
                )
        return self._exchange()

    def _exchange(self) -> dict[str, Any]:
        self._spend_exchange()  # before any I/O: a spent budget costs no request at all
        platform_token = self._platform.access_token()
        try:
            body = self._exchange_with(platform_token)
        except AuthFailed as exc:
            if exc.status != 401:
                raise
            # RingCX refused the platform token (revoked or expired early): renew it once.
            self._spend_exchange()
            body = self._exchange_with(self._platform.access_token(rejected=platform_token))
        return self._store(body, previous_refresh=None, kind="exchange")

    def _exchange_with(self, platform_token: str) -> Any:
        return self._post(
            EXCHANGE_PATH,
            {"rcAccessToken": platform_token, "rcTokenType": "Bearer"},
            params={"includeRefresh": "true"},
        )

    def _post(
        self, path: str, form: dict[str, str], params: Mapping[str, str] | None = None
    ) -> Any:
        try:
            return http.request(
                self._client, "POST", path, vendor=VENDOR, data=form, params=params, auth=None
            )
        except (Rejected, NotFound) as exc:
            raise AuthFailed(
                exc.detail,
                vendor=VENDOR,
                status=exc.status,
                error_code=exc.error_code,
                errors=exc.errors,
            ) from exc

    def _recent_exchanges(self) -> list[float]:
        now = self._clock()
        stamps = self._cache.get(self.exchanges_key) or []
        return [t for t in stamps if now - t < EXCHANGE_WINDOW_SECONDS]

    def _spend_exchange(self) -> None:
        """Count one exchange, or refuse when the budget is spent (called under the lock)."""
        recent = self._recent_exchanges()
        if len(recent) >= EXCHANGE_LIMIT:
            wait = min(recent) + EXCHANGE_WINDOW_SECONDS - self._clock()
            raise RateLimited(
                f"{len(recent)} token exchanges were made in the last "
                f"{EXCHANGE_WINDOW_SECONDS} s, the most RingCX allows",
                vendor=VENDOR,
                status=None,
                retry_after=max(1.0, wait),
            )
        recent.append(self._clock())
        self._cache.set(self.exchanges_key, recent, timeout=EXCHANGE_WINDOW_SECONDS + 5)

    def _store(self, body: Any, *, previous_refresh: str | None, kind: str) -> dict[str, Any]:
        def build(b: Mapping[str, Any]) -> dict[str, Any]:
            token = b["accessToken"]
            if not isinstance(token, str) or not token:
                raise ValueError("no accessToken")
            lifetime = b.get("expiresIn") or b.get("expires_in")
            return {
                "access_token": token,
                "refresh_token": b.get("refreshToken") or previous_refresh,
                "expires_at": self._clock() + float(lifetime or DEFAULT_TOKEN_SECONDS),
            }

        entry = http.parse(VENDOR, "token response", build, body)
        self._cache.set(self.cache_key, entry, timeout=KEEP_REFRESH_TOKEN_SECONDS)
        logger.info("ringcx access token obtained by %s", kind)
        return entry


# --- Media products --------------------------------------------------------------------------


@dataclass(frozen=True)
class MediaProduct:
    """A RingCX streaming profile: where RingCX streams a queue's or campaign's calls.

    ``secret`` is sent to RingCX and echoed back; it never appears in ``repr``. ``None`` leaves
    it out of the body. The streaming URL is not checked here: RingCX checks it (and says why
    in a ``Rejected``), and a product someone set by hand in RingCX must still be readable.
    """

    product_type: ProductType
    product_id: int
    sub_account_id: str
    main_account_id: str
    rc_account_id: str
    streaming_url: str
    secret: str | None = None

    def __post_init__(self) -> None:
        if self.product_type not in PRODUCT_TYPES:
            raise ValueError(f"product_type must be QUEUE or CAMPAIGN, not {self.product_type!r}")
        if not isinstance(self.product_id, int) or isinstance(self.product_id, bool):
            raise ValueError("product_id must be an integer")

    def __repr__(self) -> str:
        return (
            f"MediaProduct(product_type={self.product_type!r}, product_id={self.product_id!r}, "
            f"sub_account_id={self.sub_account_id!r}, main_account_id={self.main_account_id!r}, "
            f"rc_account_id={self.rc_account_id!r}, streaming_url={self.streaming_url!r}, "
            f"secret={'[set]' if self.secret else None!r})"
        )

    __str__ = __repr__

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "productType": self.product_type,
            "productId": self.product_id,
            "subAccountId": self.sub_account_id,
            "mainAccountId": self.main_account_id,
            "rcAccountId": self.rc_account_id,
            "streamingUrl": self.streaming_url,
        }
        if self.secret is not None:
            body["secret"] = self.secret
        return body

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> MediaProduct:
        secret = body.get("secret")
        return cls(
            product_type=str(body["productType"]).upper(),  # type: ignore[arg-type]
            product_id=int(body["productId"]),
            sub_account_id=str(body["subAccountId"]),
            main_account_id=str(body.get("mainAccountId") or ""),
            rc_account_id=str(body.get("rcAccountId") or ""),
            streaming_url=str(body.get("streamingUrl") or ""),
            secret=str(secret) if secret else None,
        )


def _base_path() -> str:
    """Where products are created (``POST``) and replaced (``PUT``); the ids go in the body."""
    base_path: str = settings.RINGCX_MEDIA_PRODUCT_BASE_PATH
    return base_path.rstrip("/")


def _item_path(*, sub_account_id: str, product_type: str, product_id: int) -> str:
    """Where one product is read (``GET``) and removed (``DELETE``)."""
    return (
        f"{_base_path()}/account/{quote(str(sub_account_id), safe='')}"
        f"/type/{quote(str(product_type).upper(), safe='')}/id/{int(product_id)}"
    )


def _route(method: str) -> str:
    return f"{method} media product"


def _client(client: httpx.Client | None) -> httpx.Client:
    return client if client is not None else ringcx_client()


def _product_call(method: str, product: MediaProduct, client: httpx.Client | None) -> MediaProduct:
    body = http.request(
        _client(client),
        method,
        _base_path(),
        vendor=VENDOR,
        route=_route(method),
        json=product.to_body(),
    )
    if body is None:  # nothing echoed: what we sent is what RingCX holds
        return product
    return http.parse(VENDOR, "media product", MediaProduct.from_body, body)


def media_product_create(
    *, product: MediaProduct, client: httpx.Client | None = None
) -> MediaProduct:
    """Create the streaming profile of a queue or campaign (``POST`` to the base path, ids in
    the body); returns RingCX's copy. RingCX refuses a profile that already exists."""
    return _product_call("POST", product, client)


def media_product_update(
    *, product: MediaProduct, client: httpx.Client | None = None
) -> MediaProduct:
    """Replace the streaming profile of a queue or campaign (``PUT`` to the base path, ids in
    the body); returns RingCX's copy. ``NotFound`` when there is none to replace."""
    return _product_call("PUT", product, client)


def media_product_get(
    *,
    sub_account_id: str,
    product_type: ProductType,
    product_id: int,
    client: httpx.Client | None = None,
) -> MediaProduct:
    """RingCX's copy of a streaming profile; ``NotFound`` when there is none."""
    path = _item_path(
        sub_account_id=sub_account_id, product_type=product_type, product_id=product_id
    )
    body = http.request(_client(client), "GET", path, vendor=VENDOR, route=_route("GET"))
    if body is None:
        raise NotFound(
            f"no streaming profile for {product_type} {product_id} in sub-account {sub_account_id}",
            vendor=VENDOR,
        )
    return http.parse(VENDOR, "media product", MediaProduct.from_body, body)


def media_product_delete(
    *,
    sub_account_id: str,
    product_type: ProductType,
    product_id: int,
    client: httpx.Client | None = None,
) -> None:
    """Stop RingCX streaming a queue's or campaign's calls (``NotFound`` if none was set).

    RingCX answers with a short text, not JSON; it is not read.
    """
    path = _item_path(
        sub_account_id=sub_account_id, product_type=product_type, product_id=product_id
    )
    http.request(
        _client(client), "DELETE", path, vendor=VENDOR, route=_route("DELETE"), read_body=False
    )


__all__ = [
    "MediaProduct",
    "RingCXAuth",
    "media_product_create",
    "media_product_delete",
    "media_product_get",
    "media_product_update",
    "rate_limit_status",
    "reset_clients",
    "ringcx_client",
    "vendors_configured",
]
