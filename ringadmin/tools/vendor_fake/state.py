"""Everything the fake remembers, behind one lock, and the operations on it.

The HTTP routes and the Python API (``FakeRingCentral``) both call these methods, so a test
that injects a fault or delivers an event directly sees exactly what an HTTP caller would.
Outgoing HTTP (webhook validation and delivery) always happens outside the lock.
"""

from __future__ import annotations

import math
import re
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from . import seed, webhooks
from .common import Request, iso, rc_error, redact, redact_headers

DEFAULT_MEDIA_PRODUCT_BASE_PATH = "/platform/api/media/product"
OLD_MEDIA_PRODUCT_BASE_PATH = "/media-distributor/product"
RATE_LIMIT_GROUPS = ("Light", "Medium", "Heavy", "Auth")
PLATFORM_SCOPE = "ReadAccounts CallControl ReadPresence SubscriptionWebhook TelephonySessions"
DEFAULT_SUBSCRIPTION_TTL = 604_800  # 7 days: RingCentral's default for WebHook subscriptions
MAX_SUBSCRIPTION_TTL = 315_360_000  # 10 years: the most a WebHook subscription may live
LOG_LIMIT = 10_000
TERMINAL_STATUSES = frozenset({"Disconnected", "Gone"})
PARTY_STATUSES = frozenset({"Setup", "Proceeding", "Answered", "Hold", "Parked", "Voicemail"})
PARTY_STATUSES = PARTY_STATUSES | TERMINAL_STATUSES
TELEPHONY_STATUS = {"Answered": "CallConnected", "Hold": "OnHold"}

_TELEPHONY_FILTER = re.compile(
    r"^/restapi/v1\.0/account/(?P<account>[^/?]+)(?:/extension/(?P<extension>[^/?]+))?"
    r"/telephony/sessions(?:\?.*)?$"
)
_ANY_FILTER = re.compile(r"^/restapi/v1\.0/account/(?P<account>[^/?]+)(?P<rest>[/?].*)?$")


@dataclass
class FakeConfig:
    """What a test or user may change at run time (``POST /_fake/config``)."""

    client_id: str
    client_secret: str
    jwt: str
    access_token_ttl: float = 3600
    refresh_token_ttl: float = 604_800
    ringcx_access_token_ttl: float = 300
    ringcx_refresh_token_ttl: float = 86_400
    ringcx_exchange_limit: int = 5  # exchanges of a platform token per minute
    rate_limits: dict[str, int] = field(
        default_factory=lambda: {"Light": 50, "Medium": 40, "Heavy": 10, "Auth": 5}
    )
    rate_limit_window: float = 60
    rate_limit_penalty: float = 60  # how long a group stays blocked once exceeded
    webhook_validation_timeout: float = 3.0
    webhook_max_response_bytes: int = 1024
    delivery_timeout: float = 5.0
    media_product_base_paths: list[str] = field(
        default_factory=lambda: [DEFAULT_MEDIA_PRODUCT_BASE_PATH]
    )
    ringcx_sub_account_ids: list[str] = field(
        default_factory=lambda: list(seed.RINGCX_SUB_ACCOUNT_IDS)
    )

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial change, checking names and types first so a typo fails loudly."""
        known = {f.name: f for f in fields(self)}
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise ValueError(f"unknown config keys: {', '.join(unknown)}")
        checked: dict[str, Any] = {}
        for name, value in changes.items():
            current = getattr(self, name)
            if isinstance(current, str):
                if not isinstance(value, str) or not value:
                    raise ValueError(f"{name} must be a non-empty string")
            elif isinstance(current, int | float):
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise ValueError(f"{name} must be a number >= 0")
                value = type(current)(value)
            elif isinstance(current, dict):
                if not isinstance(value, dict) or not set(value) <= set(RATE_LIMIT_GROUPS):
                    raise ValueError(f"{name} must map {'/'.join(RATE_LIMIT_GROUPS)} to ints")
                if any(isinstance(v, bool) or not isinstance(v, int) for v in value.values()):
                    raise ValueError(f"{name} must map {'/'.join(RATE_LIMIT_GROUPS)} to ints")
                value = {**current, **value}
            elif isinstance(current, list):
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValueError(f"{name} must be a list of strings")
                if name == "media_product_base_paths":
                    value = [normalise_base_path(v) for v in value]
            checked[name] = value
        for name, value in checked.items():
            setattr(self, name, value)

    def public(self) -> dict[str, Any]:
        return asdict(self)


def normalise_base_path(path: str) -> str:
    if not path.startswith("/") or path.startswith("/_fake"):
        raise ValueError(f"bad media product base path: {path!r}")
    return path.rstrip("/")


@dataclass
class Fault:
    """One injected failure, matched on method and a regex searched in the path."""

    id: str
    path_regex: str = ".*"
    method: str | None = None
    status: int | None = None
    retry_after: int | None = None
    omit_retry_after: bool = False
    delay: float = 0.0
    body: str | None = None
    malformed: bool = False
    disconnect: bool = False
    times: int | None = None  # None: until removed
    hits: int = 0

    def __post_init__(self) -> None:
        self._regex = re.compile(self.path_regex)
        if self.method is not None:
            self.method = self.method.upper()
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError("status must be an HTTP status code")
        if self.delay < 0 or (self.times is not None and self.times < 1):
            raise ValueError("delay must be >= 0 and times >= 1")
        if self.status is None and not (self.malformed or self.disconnect or self.delay):
            raise ValueError("a fault needs a status, malformed, disconnect or a delay")

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and bool(self._regex.search(path))

    def describe(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class Subscription:
    id: str
    event_filters: list[str]
    address: str
    verification_token: str | None
    expires_in: int
    created_at: float
    expires_at: float


class FakeState:
    """The fake's memory. Every public method takes the lock; none does I/O while holding it."""

    def __init__(self, config: FakeConfig) -> None:
        self.lock = threading.RLock()
        self.config = config
        self.base_url = ""
        self.clock_offset = 0.0
        self._seed()

    # --- clock and seed -----------------------------------------------------------------------

    def now(self) -> float:
        """Wall time plus ``advance_time`` offsets: expiries and rate windows follow it."""
        return time.time() + self.clock_offset

    def _seed(self) -> None:
        self.extensions = seed.build_extensions()
        self.devices = seed.build_devices()
        self.groups = seed.build_groups()
        self.calls = seed.build_calls(self.extensions, self.now())
        self.access_tokens: dict[str, float] = {}
        self.refresh_tokens: dict[str, float] = {}
        self.ringcx_access_tokens: dict[str, float] = {}
        self.ringcx_refresh_tokens: dict[str, float] = {}
        self.tokens_issued = 0
        self.rate_hits: dict[str, deque[float]] = {g: deque() for g in RATE_LIMIT_GROUPS}
        self.rate_blocked_until: dict[str, float] = {}
        self.ringcx_exchange_hits: deque[float] = deque()
        self.faults: list[Fault] = []
        self.request_log: deque[dict[str, Any]] = deque(maxlen=LOG_LIMIT)
        self.subscriptions: dict[str, Subscription] = {}
        self.media_products: dict[tuple[str, str, int], dict[str, Any]] = {}
        self.supervisors: dict[str, str] = {}  # telephony session id -> supervisor device id
        self.supervisor_parties: dict[tuple[str, str], dict[str, Any]] = {}
        self.sequences: dict[str, int] = {}
        self.deliveries: deque[dict[str, Any]] = deque(maxlen=LOG_LIMIT)
        self.sink: deque[dict[str, Any]] = deque(maxlen=LOG_LIMIT)

    def reset(self) -> None:
        """Back to the seed: tokens, faults, counters, logs and stored objects go; config stays."""
        with self.lock:
            self.clock_offset = 0.0
            self._seed()

    def advance_time(self, seconds: float) -> None:
        with self.lock:
            self.clock_offset += seconds

    def configure(self, changes: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.config.update(changes)
            return self.config.public()

    # --- platform tokens ----------------------------------------------------------------------

    def issue_platform_tokens(self) -> dict[str, Any]:
        with self.lock:
            now = self.now()
            access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            self.access_tokens[access] = now + self.config.access_token_ttl
            self.refresh_tokens[refresh] = now + self.config.refresh_token_ttl
            self.tokens_issued += 1
            return {
                "access_token": access,
                "token_type": "bearer",
                "expires_in": int(self.config.access_token_ttl),
                "refresh_token": refresh,
                "refresh_token_expires_in": int(self.config.refresh_token_ttl),
                "scope": PLATFORM_SCOPE,
                "owner_id": seed.OWNER_EXTENSION_ID,
                "endpoint_id": secrets.token_hex(8),
            }

    def platform_token_valid(self, token: str | None) -> bool:
        with self.lock:
            expiry = self.access_tokens.get(token or "")
            return expiry is not None and expiry > self.now()

    def use_refresh_token(self, token: str) -> bool:
        """Refresh tokens are single use: the first use consumes it, valid or not."""
        with self.lock:
            expiry = self.refresh_tokens.pop(token, None)
            return expiry is not None and expiry > self.now()

    def revoke(self, token: str) -> None:
        with self.lock:
            self.access_tokens.pop(token, None)
            self.refresh_tokens.pop(token, None)

    # --- RingCX tokens ------------------------------------------------------------------------

    def issue_ringcx_tokens(self, *, include_refresh: bool) -> dict[str, str]:
        with self.lock:
            now = self.now()
            tokens = {"accessToken": secrets.token_urlsafe(32)}
            self.ringcx_access_tokens[tokens["accessToken"]] = (
                now + self.config.ringcx_access_token_ttl
            )
            if include_refresh:
                tokens["refreshToken"] = secrets.token_urlsafe(32)
                self.ringcx_refresh_tokens[tokens["refreshToken"]] = (
                    now + self.config.ringcx_refresh_token_ttl
                )
            self.tokens_issued += 1
            return tokens

    def ringcx_token_valid(self, token: str | None) -> bool:
        with self.lock:
            expiry = self.ringcx_access_tokens.get(token or "")
            return expiry is not None and expiry > self.now()

    def ringcx_token_expired(self, token: str | None) -> bool:
        """A token this fake issued whose time is up (RingCX answers it differently)."""
        with self.lock:
            expiry = self.ringcx_access_tokens.get(token or "")
            return expiry is not None and expiry <= self.now()

    def use_ringcx_refresh_token(self, token: str) -> bool:
        with self.lock:
            expiry = self.ringcx_refresh_tokens.pop(token, None)
            return expiry is not None and expiry > self.now()

    def ringcx_exchange_retry_after(self) -> int | None:
        """Count one exchange; the seconds to wait when over the per-minute limit, else None."""
        with self.lock:
            now = self.now()
            hits = self.ringcx_exchange_hits
            while hits and hits[0] <= now - 60:
                hits.popleft()
            if len(hits) >= self.config.ringcx_exchange_limit:
                return max(1, math.ceil(hits[0] + 60 - now)) if hits else 60
            hits.append(now)
            return None

    def expire_tokens(self) -> None:
        """Every platform and RingCX access token expires now; refresh tokens still work."""
        with self.lock:
            expired = self.now() - 1
            for store in (self.access_tokens, self.ringcx_access_tokens):
                for token in store:
                    store[token] = expired

    # --- rate limits --------------------------------------------------------------------------

    def rate_headers(self, group: str, *, count: bool) -> tuple[dict[str, str], int | None]:
        """Count a request in ``group`` if asked; its headers and, when refused, Retry-After."""
        with self.lock:
            now = self.now()
            limit = self.config.rate_limits[group]
            window = self.config.rate_limit_window
            hits = self.rate_hits[group]
            while hits and hits[0] <= now - window:
                hits.popleft()
            retry_after = None
            blocked_until = self.rate_blocked_until.get(group, 0.0)
            if blocked_until > now:
                retry_after = max(1, math.ceil(blocked_until - now))
            elif count and len(hits) >= limit:
                self.rate_blocked_until[group] = now + self.config.rate_limit_penalty
                retry_after = max(1, math.ceil(self.config.rate_limit_penalty))
            elif count:
                hits.append(now)
            headers = {
                "X-Rate-Limit-Group": group,
                "X-Rate-Limit-Limit": str(limit),
                "X-Rate-Limit-Remaining": str(0 if retry_after else max(0, limit - len(hits))),
                "X-Rate-Limit-Window": str(int(window)),
            }
            return headers, retry_after

    # --- faults and the request log -----------------------------------------------------------

    def add_fault(self, **spec: Any) -> Fault:
        fault = Fault(id=uuid.uuid4().hex[:12], **spec)
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def remove_fault(self, fault_id: str) -> bool:
        with self.lock:
            before = len(self.faults)
            self.faults = [f for f in self.faults if f.id != fault_id]
            return len(self.faults) < before

    def take_fault(self, method: str, path: str) -> Fault | None:
        """The first matching fault, counted; one whose ``times`` ran out is removed."""
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.hits += 1
                    if fault.times is not None and fault.hits >= fault.times:
                        self.faults.remove(fault)
                    return fault
            return None

    def record_request(self, request: Request) -> dict[str, Any]:
        entry = {
            "method": request.method,
            "path": request.path,
            "query": redact({k: v if len(v) > 1 else v[0] for k, v in request.query.items()}),
            "headers": redact_headers(request.headers),
            "body": redact(request.parsed_body()),
            "time": iso(request.received_at),
        }
        with self.lock:
            self.request_log.append(entry)
        return entry

    def requests(self, *, path_regex: str | None = None, method: str | None = None) -> list[dict]:
        regex = re.compile(path_regex) if path_regex else None
        with self.lock:
            return [
                dict(entry)
                for entry in self.request_log
                if (regex is None or regex.search(entry["path"]))
                and (method is None or entry["method"] == method.upper())
            ]

    def clear_requests(self) -> None:
        with self.lock:
            self.request_log.clear()

    # --- calls --------------------------------------------------------------------------------

    def call_view(self, call: seed.Call) -> dict[str, Any]:
        return {
            "telephonySessionId": call.telephony_session_id,
            "sessionId": call.session_id,
            "agentExtensionId": call.agent_extension_id,
            "direction": call.direction,
            "customerNumber": call.customer_number,
            "status": call.status,
            "startTime": iso(call.start_time),
            "parties": [
                {"id": p.id, "extensionId": p.extension_id, "direction": p.direction}
                for p in call.parties
            ],
            "supervisorDeviceId": self.supervisors.get(call.telephony_session_id),
        }

    def list_calls(self) -> list[dict[str, Any]]:
        with self.lock:
            return [self.call_view(call) for call in self.calls.values()]

    def start_call(
        self,
        *,
        agent_extension_id: str,
        direction: str = "Inbound",
        customer_number: str = "+14155550199",
        status: str = "Answered",
        notify: bool = True,
    ) -> dict[str, Any]:
        """A new active call for an agent (it appears in presence); notifies Proceeding/status."""
        if direction not in ("Inbound", "Outbound"):
            raise ValueError("direction must be Inbound or Outbound")
        if status not in PARTY_STATUSES - TERMINAL_STATUSES:
            raise ValueError(f"status must be one of {sorted(PARTY_STATUSES - TERMINAL_STATUSES)}")
        with self.lock:
            agent = self.extensions.get(agent_extension_id)
            if agent is None:
                raise ValueError(f"unknown extension {agent_extension_id}")
            number = len(self.calls) + 1
            while f"s-fake-{number:04d}" in self.calls:
                number += 1
            call = seed.make_call(
                telephony_session_id=f"s-fake-{number:04d}",
                session_id=str(500_000_000_000 + number),
                agent=agent,
                direction=direction,
                customer_number=customer_number,
                status=status,
                start_time=self.now(),
            )
            self.calls[call.telephony_session_id] = call
            view = self.call_view(call)
        deliveries = []
        if notify:
            for code in dict.fromkeys(("Proceeding", status)):
                deliveries += self.notify(
                    telephony_session_id=call.telephony_session_id, status=code
                )["deliveries"]
        return {**view, "deliveries": deliveries}

    def end_call(self, telephony_session_id: str, *, notify: bool = True) -> dict[str, Any]:
        with self.lock:
            if telephony_session_id not in self.calls:
                raise KeyError(telephony_session_id)
        if notify:
            return self.notify(telephony_session_id=telephony_session_id, status="Disconnected")
        with self.lock:
            self._forget_call(telephony_session_id)
        return {"deliveries": []}

    def _forget_call(self, telephony_session_id: str) -> None:
        self.calls.pop(telephony_session_id, None)
        self.supervisors.pop(telephony_session_id, None)
        for key in [k for k in self.supervisor_parties if k[0] == telephony_session_id]:
            del self.supervisor_parties[key]

    # --- subscriptions ------------------------------------------------------------------------

    def resolve_filter(self, event_filter: Any) -> str:
        """An event filter with ``~`` replaced by ids, as RingCentral echoes it."""
        match = _ANY_FILTER.match(event_filter) if isinstance(event_filter, str) else None
        if match is None or match["account"] not in ("~", seed.ACCOUNT_ID):
            raise rc_error(
                400,
                "CMN-101",
                f"Parameter [eventFilters] value is invalid: {event_filter!r}",
                parameterName="eventFilters",
            )
        rest = (match["rest"] or "").replace(
            "/extension/~/", f"/extension/{seed.OWNER_EXTENSION_ID}/"
        )
        if rest.endswith("/extension/~"):
            rest = rest[: -len("~")] + seed.OWNER_EXTENSION_ID
        return f"/restapi/v1.0/account/{seed.ACCOUNT_ID}{rest}"

    def subscription_view(self, sub: Subscription) -> dict[str, Any]:
        return {
            "id": sub.id,
            "uri": f"{self.base_url}/restapi/v1.0/subscription/{sub.id}",
            "eventFilters": list(sub.event_filters),
            "expirationTime": iso(sub.expires_at),
            "expiresIn": max(0, round(sub.expires_at - self.now())),
            "status": "Active",
            "creationTime": iso(sub.created_at),
            "deliveryMode": {
                "transportType": "WebHook",
                "address": sub.address,
                "encryption": False,
            },
        }

    def create_subscription(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise rc_error(400, "CMN-101", "Request body must be a JSON object")
        filters = body.get("eventFilters")
        if not isinstance(filters, list) or not filters:
            raise rc_error(
                400,
                "CMN-101",
                "Parameter [eventFilters] value is invalid",
                parameterName="eventFilters",
            )
        resolved = [self.resolve_filter(f) for f in filters]
        mode = body.get("deliveryMode")
        if not isinstance(mode, dict) or mode.get("transportType") != "WebHook":
            raise rc_error(
                400,
                "CMN-101",
                "Parameter [deliveryMode.transportType] value is invalid: this fake delivers "
                "by WebHook only",
                parameterName="deliveryMode.transportType",
            )
        address = mode.get("address")
        if not isinstance(address, str) or not re.match(r"^https?://[^/\s]+", address):
            raise rc_error(
                400,
                "CMN-101",
                "Parameter [deliveryMode.address] value is invalid",
                parameterName="deliveryMode.address",
            )
        token = mode.get("verificationToken")
        if token is not None and (not isinstance(token, str) or len(token) > 64):
            raise rc_error(
                400,
                "CMN-101",
                "Parameter [deliveryMode.verificationToken] value is invalid (at most 64 chars)",
                parameterName="deliveryMode.verificationToken",
            )
        expires_in = self._expires_in(body.get("expiresIn"))
        with self.lock:
            timeout = self.config.webhook_validation_timeout
            max_bytes = self.config.webhook_max_response_bytes
        failure = webhooks.validate_address(address, timeout=timeout, max_response_bytes=max_bytes)
        if failure is not None:
            raise rc_error(400, failure.code, failure.message)
        with self.lock:
            now = self.now()
            sub = Subscription(
                id=str(uuid.uuid4()),
                event_filters=resolved,
                address=address,
                verification_token=token,
                expires_in=expires_in,
                created_at=now,
                expires_at=now + expires_in,
            )
            self.subscriptions[sub.id] = sub
            return self.subscription_view(sub)

    @staticmethod
    def _expires_in(value: Any) -> int:
        """The top-level ``expiresIn`` (an ``expiresIn`` inside deliveryMode means nothing)."""
        if value is None:
            return DEFAULT_SUBSCRIPTION_TTL
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise rc_error(
                400, "CMN-101", "Parameter [expiresIn] value is invalid", parameterName="expiresIn"
            )
        return min(value, MAX_SUBSCRIPTION_TTL)

    def _live_subscription(self, subscription_id: str) -> Subscription:
        sub = self.subscriptions.get(subscription_id)
        if sub is not None and sub.expires_at <= self.now():
            del self.subscriptions[subscription_id]  # RingCentral forgets expired ones
            sub = None
        if sub is None:
            raise rc_error(
                404,
                "CMN-102",
                "Resource for parameter [subscriptionId] is not found",
                parameterName="subscriptionId",
            )
        return sub

    def get_subscription(self, subscription_id: str) -> dict[str, Any]:
        with self.lock:
            return self.subscription_view(self._live_subscription(subscription_id))

    def list_subscriptions(self) -> list[dict[str, Any]]:
        with self.lock:
            for sub_id in list(self.subscriptions):
                if self.subscriptions[sub_id].expires_at <= self.now():
                    del self.subscriptions[sub_id]
            return [self.subscription_view(s) for s in self.subscriptions.values()]

    def renew_subscription(self, subscription_id: str) -> dict[str, Any]:
        with self.lock:
            sub = self._live_subscription(subscription_id)
            sub.expires_at = self.now() + sub.expires_in
            return self.subscription_view(sub)

    def delete_subscription(self, subscription_id: str) -> None:
        with self.lock:
            self._live_subscription(subscription_id)
            del self.subscriptions[subscription_id]

    def subscriptions_detail(self) -> list[dict[str, Any]]:
        """Subscriptions as tests need them: the view plus the verification token."""
        with self.lock:
            return [
                {**self.subscription_view(s), "verificationToken": s.verification_token}
                for s in self.subscriptions.values()
                if s.expires_at > self.now()
            ]

    # --- notifications ------------------------------------------------------------------------

    def _party_payload(self, party: seed.Party, code: str, reason: str | None) -> dict[str, Any]:
        payload: dict[str, Any] = {"accountId": seed.ACCOUNT_ID}
        if party.extension_id:
            payload["extensionId"] = party.extension_id
        status: dict[str, Any] = {"code": code}
        if reason:
            status["reason"] = reason
        payload.update(
            id=party.id,
            direction=party.direction,
            to=dict(party.to),
            **{"from": dict(party.from_)},
            status=status,
            missedCall=False,
            standAlone=False,
            muted=False,
        )
        return payload

    @staticmethod
    def _complete_party(party: Any) -> dict[str, Any]:
        if not isinstance(party, dict) or "id" not in party:
            raise ValueError("each party needs at least an id")
        status = party.get("status") or {"code": "Answered"}
        if isinstance(status, str):
            status = {"code": status}
        return {
            "accountId": seed.ACCOUNT_ID,
            "direction": "Inbound",
            "to": {"phoneNumber": seed.MAIN_NUMBER},
            "from": {"phoneNumber": "+14155550100"},
            "missedCall": False,
            "standAlone": False,
            "muted": False,
            **party,
            "status": status,
        }

    def notify(
        self,
        *,
        telephony_session_id: str,
        status: str | None = None,
        reason: str | None = None,
        parties: list[dict[str, Any]] | None = None,
        session_id: str | None = None,
        sequence: int | None = None,
        event_time: str | None = None,
        server_id: str = "10.13.22.241.TAM",
        origin: dict[str, Any] | None = None,
        repeat: int = 1,
    ) -> dict[str, Any]:
        """Deliver one telephony-session event to every matching live subscription.

        For a known call, parties come from the call with ``status`` (default: its current
        status), and the call follows: a Disconnected/Gone event ends it. Explicit ``parties``
        are sent as given (missing fields filled in). ``repeat`` sends the identical payload
        (same uuid) that many times, as RingCentral's at-least-once delivery may.
        """
        if repeat < 1:
            raise ValueError("repeat must be >= 1")
        if status is not None and status not in PARTY_STATUSES:
            raise ValueError(f"status must be one of {sorted(PARTY_STATUSES)}")
        with self.lock:
            now = self.now()
            call = self.calls.get(telephony_session_id)
            if parties is not None:
                party_payloads = [self._complete_party(p) for p in parties]
            elif call is not None:
                code = status or call.status
                party_payloads = [self._party_payload(p, code, reason) for p in call.parties]
            else:
                raise ValueError(f"unknown telephony session {telephony_session_id}: give parties")
            if call is not None and status is not None:
                if status in TERMINAL_STATUSES:
                    self._forget_call(telephony_session_id)
                else:
                    call.status = status
            if sequence is None:
                sequence = self.sequences.get(telephony_session_id, 0) + 1
            self.sequences[telephony_session_id] = max(
                sequence, self.sequences.get(telephony_session_id, 0)
            )
            body = {
                "sequence": sequence,
                "sessionId": session_id or (call.session_id if call else telephony_session_id),
                "telephonySessionId": telephony_session_id,
                "serverId": server_id,
                "eventTime": event_time or iso(now),
                "parties": party_payloads,
                "origin": origin or {"type": "Call"},
            }
            targets = self._targets(body)
            timeout = self.config.delivery_timeout
        deliveries = []
        for sub, payload in targets:
            for attempt in range(1, repeat + 1):
                result = webhooks.deliver(
                    sub.address, payload, verification_token=sub.verification_token, timeout=timeout
                )
                result.update(subscriptionId=sub.id, event=payload["event"], attempt=attempt)
                deliveries.append(result)
        with self.lock:
            self.deliveries.extend(deliveries)
        return {"body": body, "deliveries": deliveries}

    def _targets(self, body: dict[str, Any]) -> list[tuple[Subscription, dict[str, Any]]]:
        """(subscription, notification) pairs: account filters get every party, extension
        filters only the parties of that extension (none: no delivery)."""
        now = self.now()
        targets = []
        for sub in self.subscriptions.values():
            if sub.expires_at <= now:
                continue
            events: dict[str, list[dict[str, Any]]] = {}
            for event_filter in sub.event_filters:
                match = _TELEPHONY_FILTER.match(event_filter)
                if match is None:
                    continue
                extension = match["extension"]
                if extension is None:
                    event = f"/restapi/v1.0/account/{seed.ACCOUNT_ID}/telephony/sessions"
                    events.setdefault(event, body["parties"])
                    continue
                own = [p for p in body["parties"] if p.get("extensionId") == extension]
                if own:
                    event = (
                        f"/restapi/v1.0/account/{seed.ACCOUNT_ID}/extension/{extension}"
                        "/telephony/sessions"
                    )
                    events.setdefault(event, own)
            for event, parties in events.items():
                payload = {
                    "uuid": str(uuid.uuid4()),
                    "event": event,
                    "timestamp": iso(now),
                    "subscriptionId": sub.id,
                    "ownerId": seed.OWNER_EXTENSION_ID,
                    "body": {**body, "parties": parties},
                }
                targets.append((sub, payload))
        return targets

    def record_sink(self, request: Request) -> None:
        with self.lock:
            self.sink.append(
                {
                    "headers": redact_headers(request.headers),
                    "body": request.parsed_body(),
                    "time": iso(request.received_at),
                }
            )

    # --- overview -----------------------------------------------------------------------------

    def media_product_list(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(p) for p in self.media_products.values()]

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            now = self.now()
            return {
                "subscriptions": self.subscriptions_detail(),
                "mediaProducts": self.media_product_list(),
                "calls": self.list_calls(),
                "tokens": {
                    "issued": self.tokens_issued,
                    "platformAccessValid": sum(e > now for e in self.access_tokens.values()),
                    "platformRefreshValid": sum(e > now for e in self.refresh_tokens.values()),
                    "ringcxAccessValid": sum(e > now for e in self.ringcx_access_tokens.values()),
                    "ringcxRefreshValid": sum(e > now for e in self.ringcx_refresh_tokens.values()),
                },
                "faults": [f.describe() for f in self.faults],
                "deliveries": list(self.deliveries),
                "webhookSink": list(self.sink),
                "requestCount": len(self.request_log),
                "clockOffset": self.clock_offset,
            }
