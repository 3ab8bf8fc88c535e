"""RingCentral platform API: the JWT-authenticated client and one function per endpoint.

Only services call these functions. Each takes keyword-only arguments, returns frozen
dataclasses and raises the errors of ``ringadmin.vendors.errors``; each accepts ``client=``
(an ``httpx.Client`` with a ``PlatformAuth``) for tests and otherwise uses the process's
long-lived client built from the settings.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
from django.conf import settings
from django.core.cache import cache as default_cache

from ringadmin.vendors import http
from ringadmin.vendors.errors import (
    AuthFailed,
    NotConfigured,
    NotFound,
    Rejected,
    Unavailable,
    Vendor,
)
from ringadmin.vendors.http import rate_limit_status, reset_clients

logger = logging.getLogger("ringadmin.vendors")

VENDOR: Vendor = "ringcentral"
TOKEN_PATH = "/restapi/oauth/token"  # noqa: S105 (a path, not a password)
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
REFRESH_MARGIN_SECONDS = 60  # renew this long before the access token expires
DEFAULT_EXPIRES_IN = 3600
DEFAULT_REFRESH_EXPIRES_IN = 7 * 24 * 3600
MAX_PAGES = 1000  # a runaway paging loop stops here
# Device types that register over SIP and can therefore ring for a supervision call.
# ``OtherPhone`` covers third-party SIP phones and WebRTC (browser) phones; ``WebPhone`` is what
# some accounts report for RingCentral's own WebRTC phone. Room, Paging, BLA and mobile-app
# devices cannot receive a supervision call.
SUPERVISION_DEVICE_TYPES = frozenset({"SoftPhone", "HardPhone", "OtherPhone", "WebPhone"})


# --- Configuration and client ----------------------------------------------------------------


def missing_settings() -> list[str]:
    """Names of the credential settings that are empty."""
    names = ("RINGCENTRAL_CLIENT_ID", "RINGCENTRAL_CLIENT_SECRET", "RINGCENTRAL_JWT")
    return [name for name in names if not getattr(settings, name, "")]


def vendors_configured() -> bool:
    """Whether the RingCentral credentials (also needed for RingCX) are set."""
    return not missing_settings()


def require_configured(*, vendor: Vendor = VENDOR) -> None:
    missing = missing_settings()
    if missing:
        raise NotConfigured(missing, vendor=vendor)


def platform_auth() -> PlatformAuth:
    """The auth of the long-lived platform client (RingCX's auth builds on it)."""
    auth = platform_client().auth
    if not isinstance(auth, PlatformAuth):  # pragma: no cover - only if someone swapped it
        raise TypeError("the platform client has no PlatformAuth")
    return auth


def platform_client() -> httpx.Client:
    """The process's long-lived platform client, created from the settings on first use."""
    return http.shared_client(VENDOR, _build_platform_client)


def _build_platform_client() -> httpx.Client:
    require_configured()
    client = http.new_client(base_url=settings.RINGCENTRAL_SERVER_URL)
    client.auth = PlatformAuth(
        client=client,
        client_id=settings.RINGCENTRAL_CLIENT_ID,
        client_secret=settings.RINGCENTRAL_CLIENT_SECRET,
        jwt=settings.RINGCENTRAL_JWT,
    )
    return client


# --- Authentication --------------------------------------------------------------------------


class PlatformAuth(http.CachedTokenAuth):
    """Bearer tokens from the JWT grant, shared by every worker through Django's cache.

    The token is renewed ``REFRESH_MARGIN_SECONDS`` before it expires, with the single-use
    refresh token (a new JWT grant when that is refused). A 401 from an API call renews once
    and retries the call once. Renewal runs under ``http.exclusive`` (a thread lock plus a
    cache lock), and re-reads the cache once inside, so concurrent callers in any process
    cause one token request, never a race that burns a refresh token twice.
    """

    vendor = VENDOR
    refresh_margin = REFRESH_MARGIN_SECONDS

    def __init__(
        self,
        *,
        client: httpx.Client,
        client_id: str,
        client_secret: str,
        jwt: str,
        cache: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._client_id = client_id
        self._client_secret = client_secret
        self._jwt = jwt
        self._cache = cache if cache is not None else default_cache
        self._clock = clock
        self.cache_key = (
            f"{http.CACHE_PREFIX}:ringcentral:token:"
            f"{http.fingerprint(str(client.base_url), client_id, jwt)}"
        )

    def __repr__(self) -> str:
        return f"PlatformAuth(server={self._client.base_url!s}, client_id={self._client_id!r})"

    def _lock_ttl(self) -> float:
        # The holder may make two token requests (a refused refresh, then a JWT grant).
        return 2 * (self._client.timeout.read or 10) + 5

    def _renew(self, entry: Mapping[str, Any] | None) -> dict[str, Any]:
        refresh_token = entry.get("refresh_token") if entry else None
        if refresh_token and entry and self._clock() < entry.get("refresh_expires_at", 0) - 5:
            try:
                return self._grant(
                    {"grant_type": "refresh_token", "refresh_token": refresh_token},
                    kind="refresh",
                )
            except AuthFailed as exc:
                # Spent or revoked refresh token (invalid_grant): start again from the JWT.
                logger.info(
                    "ringcentral refresh token refused (%s); requesting a new JWT grant",
                    exc.error_code or exc.status,
                )
        return self._grant({"grant_type": JWT_GRANT, "assertion": self._jwt}, kind="jwt")

    def _grant(self, form: dict[str, str], *, kind: str) -> dict[str, Any]:
        try:
            body = http.request(
                self._client,
                "POST",
                TOKEN_PATH,
                vendor=VENDOR,
                data=form,
                auth=httpx.BasicAuth(self._client_id, self._client_secret),
            )
        except (Rejected, NotFound, AuthFailed) as exc:
            # 400 invalid_grant / invalid_client, 401 and 404 all mean "these credentials".
            raise AuthFailed(
                exc.detail
                if kind == "jwt"
                else f"the refresh token was refused ({exc.detail.rstrip('.')})",
                vendor=VENDOR,
                status=exc.status,
                error_code=exc.error_code,
                errors=exc.errors,
            ) from exc
        entry = http.parse(VENDOR, "token response", self._token_entry, body)
        self._cache.set(
            self.cache_key,
            entry,
            timeout=max(
                1, int(max(entry["expires_at"], entry["refresh_expires_at"]) - self._clock())
            ),
        )
        logger.info("ringcentral access token obtained by %s grant", kind)
        return entry

    def _token_entry(self, body: Mapping[str, Any]) -> dict[str, Any]:
        now = self._clock()
        access_token = body["access_token"]
        if not isinstance(access_token, str) or not access_token:
            raise ValueError("no access_token")
        return {
            "access_token": access_token,
            "refresh_token": body.get("refresh_token"),
            "expires_at": now + float(body.get("expires_in") or DEFAULT_EXPIRES_IN),
            "refresh_expires_at": now
            + float(body.get("refresh_token_expires_in") or DEFAULT_REFRESH_EXPIRES_IN),
            "owner_id": str(body.get("owner_id") or ""),
        }


# --- Data ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountInfo:
    id: str
    main_number: str | None
    status: str | None
    brand_name: str | None


@dataclass(frozen=True)
class MonitoringGroup:
    id: str
    name: str


@dataclass(frozen=True)
class GroupMember:
    extension_id: str
    extension_number: str | None
    permissions: tuple[str, ...]

    @property
    def is_supervisor(self) -> bool:
        return "Monitoring" in self.permissions

    @property
    def is_monitored(self) -> bool:
        return "Monitored" in self.permissions


@dataclass(frozen=True)
class Device:
    id: str
    type: str
    name: str
    status: str
    extension_id: str | None
    extension_number: str | None

    @property
    def can_receive_supervision(self) -> bool:
        """RingCentral rings the supervisor's device: it must be online and SIP-registered."""
        return self.status == "Online" and self.type in SUPERVISION_DEVICE_TYPES


@dataclass(frozen=True)
class ActiveCall:
    telephony_session_id: str
    party_id: str | None
    direction: str | None
    telephony_status: str | None
    from_number: str | None
    to_number: str | None


@dataclass(frozen=True)
class ExtensionPresence:
    extension_id: str
    extension_number: str | None
    telephony_status: str | None
    active_calls: tuple[ActiveCall, ...]


@dataclass(frozen=True)
class SupervisionParty:
    """The supervisor's party that RingCentral adds to the supervised call."""

    id: str
    status_code: str | None
    telephony_session_id: str
    direction: str | None
    muted: bool | None
    extension_id: str | None


@dataclass(frozen=True)
class Subscription:
    id: str
    status: str
    event_filters: tuple[str, ...]
    address: str | None
    expires_at: datetime


# --- Endpoints -------------------------------------------------------------------------------

ACCOUNT = "/restapi/v1.0/account/~"


def _client(client: httpx.Client | None) -> httpx.Client:
    return client if client is not None else platform_client()


def _get(client: httpx.Client | None, path: str, *, route: str, **params: Any) -> Any:
    return http.request(_client(client), "GET", path, vendor=VENDOR, route=route, params=params)


def _records(
    client: httpx.Client | None,
    path: str,
    *,
    route: str,
    per_page: int,
    params: Mapping[str, Any] | None = None,
) -> Iterator[Mapping[str, Any]]:
    """Every record of a paged list, following ``navigation.nextPage`` (or ``paging``)."""
    for page in range(1, MAX_PAGES + 1):
        body = _get(client, path, route=route, **(params or {}), page=page, perPage=per_page)
        if not isinstance(body, Mapping) or not isinstance(body.get("records"), list):
            raise Unavailable(f"answered {path} without a records list", vendor=VENDOR)
        records = body["records"]
        yield from records
        if not records or not _has_next_page(body, page):
            return
    logger.warning("ringcentral %s: stopped after %d pages", path, MAX_PAGES)


def _has_next_page(body: Mapping[str, Any], page: int) -> bool:
    navigation = body.get("navigation")
    if isinstance(navigation, Mapping):
        return bool(navigation.get("nextPage"))
    paging = body.get("paging") or {}
    total_pages = paging.get("totalPages")
    return isinstance(total_pages, int) and page < total_pages


def _str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _seg(value: Any) -> str:
    """One URL path segment; ids come from callers and webhooks, so quote them."""
    return quote(str(value), safe="")


def account_info(*, client: httpx.Client | None = None) -> AccountInfo:
    """The account the JWT belongs to; a cheap call to check that the credentials work."""
    body = _get(client, ACCOUNT, route=f"GET {ACCOUNT}")

    def build(b: Mapping[str, Any]) -> AccountInfo:
        brand = (b.get("serviceInfo") or {}).get("brand") or {}
        return AccountInfo(
            id=str(b["id"]),
            main_number=_str(b.get("mainNumber")),
            status=_str(b.get("status")),
            brand_name=_str(brand.get("name")),
        )

    return http.parse(VENDOR, "account", build, body)


def call_monitoring_groups(
    *, per_page: int = 100, client: httpx.Client | None = None
) -> list[MonitoringGroup]:
    """Every call monitoring group of the account, all pages."""
    path = f"{ACCOUNT}/call-monitoring-groups"
    records = list(_records(client, path, route=f"GET {path}", per_page=per_page))
    return http.parse(
        VENDOR,
        "monitoring group list",
        lambda rs: [MonitoringGroup(id=str(r["id"]), name=str(r.get("name") or "")) for r in rs],
        records,
    )


def call_monitoring_group_members(
    *, group_id: str, per_page: int = 100, client: httpx.Client | None = None
) -> list[GroupMember]:
    """Members of one monitoring group with their Monitoring/Monitored permissions."""
    path = f"{ACCOUNT}/call-monitoring-groups/{_seg(group_id)}/members"
    route = f"GET {ACCOUNT}/call-monitoring-groups/{{groupId}}/members"
    records = list(_records(client, path, route=route, per_page=per_page))
    return http.parse(
        VENDOR,
        "monitoring group member list",
        lambda rs: [
            GroupMember(
                extension_id=str(r["id"]),
                extension_number=_str(r.get("extensionNumber")),
                permissions=tuple(str(p) for p in r.get("permissions") or ()),
            )
            for r in rs
        ],
        records,
    )


def extension_devices(
    *, extension_id: str, per_page: int = 100, client: httpx.Client | None = None
) -> list[Device]:
    """The devices of one extension (to find a supervisor's online SIP phone)."""
    path = f"{ACCOUNT}/extension/{_seg(extension_id)}/device"
    route = f"GET {ACCOUNT}/extension/{{extensionId}}/device"
    records = list(_records(client, path, route=route, per_page=per_page))

    def build(rs: Sequence[Mapping[str, Any]]) -> list[Device]:
        devices = []
        for r in rs:
            extension = r.get("extension") or {}
            devices.append(
                Device(
                    id=str(r["id"]),
                    type=str(r.get("type") or ""),
                    name=str(r.get("name") or ""),
                    status=str(r.get("status") or ""),
                    extension_id=_str(extension.get("id")) or str(extension_id),
                    extension_number=_str(extension.get("extensionNumber")),
                )
            )
        return devices

    return http.parse(VENDOR, "device list", build, records)


def _number(end: Any) -> str | None:
    """A call end as presence gives it: a phone number string, or an object with one."""
    if isinstance(end, Mapping):
        return _str(end.get("phoneNumber") or end.get("extensionNumber"))
    return _str(end)


def account_presence(
    *, per_page: int = 100, client: httpx.Client | None = None
) -> list[ExtensionPresence]:
    """Presence of every extension with its active calls (detailed telephony state)."""
    path = f"{ACCOUNT}/presence"
    records = list(
        _records(
            client,
            path,
            route=f"GET {path}",
            per_page=per_page,
            params={"detailedTelephonyState": "true", "sipData": "true"},
        )
    )

    def build(rs: Sequence[Mapping[str, Any]]) -> list[ExtensionPresence]:
        result = []
        for r in rs:
            extension = r.get("extension") or {}
            calls = tuple(
                ActiveCall(
                    telephony_session_id=str(c["telephonySessionId"]),
                    party_id=_str(c.get("partyId")),
                    direction=_str(c.get("direction")),
                    telephony_status=_str(c.get("telephonyStatus")),
                    from_number=_number(c.get("from")),
                    to_number=_number(c.get("to")),
                )
                for c in r.get("activeCalls") or ()
                if c.get("telephonySessionId")
            )
            result.append(
                ExtensionPresence(
                    extension_id=str(extension["id"]),
                    extension_number=_str(extension.get("extensionNumber")),
                    telephony_status=_str(r.get("telephonyStatus")),
                    active_calls=calls,
                )
            )
        return result

    return http.parse(VENDOR, "presence list", build, records)


def _supervision_party(telephony_session_id: str) -> Callable[[Any], SupervisionParty]:
    def build(b: Mapping[str, Any]) -> SupervisionParty:
        status = b.get("status") or {}
        owner = b.get("owner") or {}
        muted = b.get("muted")
        return SupervisionParty(
            id=str(b["id"]),
            status_code=_str(status.get("code")),
            telephony_session_id=telephony_session_id,
            direction=_str(b.get("direction")),
            muted=muted if isinstance(muted, bool) else None,
            extension_id=_str(owner.get("extensionId")),
        )

    return build


def supervise_session(
    *,
    telephony_session_id: str,
    supervisor_device_id: str,
    agent_extension_id: str | None = None,
    agent_extension_number: str | None = None,
    mode: str = "Listen",
    client: httpx.Client | None = None,
) -> SupervisionParty:
    """Ring the supervisor's device into a call, hearing both sides on one channel.

    Name the agent by extension id or by extension number (at least one).
    """
    if not agent_extension_id and not agent_extension_number:
        raise ValueError("supervise_session needs agent_extension_id or agent_extension_number")
    body: dict[str, str] = {"mode": mode, "supervisorDeviceId": str(supervisor_device_id)}
    if agent_extension_id:
        body["agentExtensionId"] = str(agent_extension_id)
    if agent_extension_number:
        body["agentExtensionNumber"] = str(agent_extension_number)
    path = f"{ACCOUNT}/telephony/sessions/{_seg(telephony_session_id)}/supervise"
    route = f"POST {ACCOUNT}/telephony/sessions/{{telephonySessionId}}/supervise"
    result = http.request(_client(client), "POST", path, vendor=VENDOR, route=route, json=body)
    return http.parse(VENDOR, "supervision party", _supervision_party(telephony_session_id), result)


def supervise_party(
    *,
    telephony_session_id: str,
    party_id: str,
    supervisor_device_id: str,
    agent_extension_id: str,
    mode: str = "Listen",
    client: httpx.Client | None = None,
) -> SupervisionParty:
    """Ring the supervisor's device into one party of a call (one channel per party)."""
    body = {
        "mode": mode,
        "supervisorDeviceId": str(supervisor_device_id),
        "agentExtensionId": str(agent_extension_id),
    }
    path = (
        f"{ACCOUNT}/telephony/sessions/{_seg(telephony_session_id)}"
        f"/parties/{_seg(party_id)}/supervise"
    )
    route = f"POST {ACCOUNT}/telephony/sessions/{{telephonySessionId}}/parties/{{id}}/supervise"
    result = http.request(_client(client), "POST", path, vendor=VENDOR, route=route, json=body)
    return http.parse(VENDOR, "supervision party", _supervision_party(telephony_session_id), result)


SUBSCRIPTION = "/restapi/v1.0/subscription"


def _subscription(b: Mapping[str, Any]) -> Subscription:
    delivery = b.get("deliveryMode") or {}
    expires_at = datetime.fromisoformat(str(b["expirationTime"]))
    if expires_at.tzinfo is None:
        raise ValueError("expirationTime has no time zone")
    return Subscription(
        id=str(b["id"]),
        status=str(b.get("status") or ""),
        event_filters=tuple(str(f) for f in b.get("eventFilters") or ()),
        address=_str(delivery.get("address")),
        expires_at=expires_at,
    )


def subscription_create(
    *,
    event_filters: Sequence[str],
    address: str,
    verification_token: str,
    expires_in: int,
    client: httpx.Client | None = None,
) -> Subscription:
    """Ask RingCentral to post telephony events to our webhook at ``address``.

    RingCentral validates the address before answering (a POST with ``Validation-Token``
    that the webhook view must echo), so the webhook must already be reachable.
    """
    body = {
        "eventFilters": list(event_filters),
        "deliveryMode": {
            "transportType": "WebHook",
            "address": address,
            "verificationToken": verification_token,
        },
        "expiresIn": int(expires_in),
    }
    route = f"POST {SUBSCRIPTION}"
    result = http.request(
        _client(client), "POST", SUBSCRIPTION, vendor=VENDOR, route=route, json=body
    )
    return http.parse(VENDOR, "subscription", _subscription, result)


def subscription_get(*, subscription_id: str, client: httpx.Client | None = None) -> Subscription:
    path = f"{SUBSCRIPTION}/{_seg(subscription_id)}"
    result = _get(client, path, route=f"GET {SUBSCRIPTION}/{{id}}")
    return http.parse(VENDOR, "subscription", _subscription, result)


def subscription_renew(*, subscription_id: str, client: httpx.Client | None = None) -> Subscription:
    """Extend a subscription by its ``expiresIn`` (before it expires, or it is gone)."""
    path = f"{SUBSCRIPTION}/{_seg(subscription_id)}/renew"
    result = http.request(
        _client(client), "POST", path, vendor=VENDOR, route=f"POST {SUBSCRIPTION}/{{id}}/renew"
    )
    return http.parse(VENDOR, "subscription", _subscription, result)


def subscription_delete(*, subscription_id: str, client: httpx.Client | None = None) -> None:
    path = f"{SUBSCRIPTION}/{_seg(subscription_id)}"
    http.request(
        _client(client), "DELETE", path, vendor=VENDOR, route=f"DELETE {SUBSCRIPTION}/{{id}}"
    )


__all__ = [
    "AccountInfo",
    "ActiveCall",
    "Device",
    "ExtensionPresence",
    "GroupMember",
    "MonitoringGroup",
    "PlatformAuth",
    "Subscription",
    "SupervisionParty",
    "account_info",
    "account_presence",
    "call_monitoring_group_members",
    "call_monitoring_groups",
    "extension_devices",
    "platform_auth",
    "platform_client",
    "rate_limit_status",
    "require_configured",
    "reset_clients",
    "subscription_create",
    "subscription_delete",
    "subscription_get",
    "subscription_renew",
    "supervise_party",
    "supervise_session",
    "vendors_configured",
]
