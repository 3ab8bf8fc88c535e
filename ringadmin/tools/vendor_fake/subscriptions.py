"""RingCentral WebHook subscriptions and the telephony-session notifications delivered to
them (outgoing HTTP always happens outside the lock), and the fake's own webhook sink."""

from __future__ import annotations

import re
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import seed, webhooks
from .common import Request, iso, rc_error, redact_headers
from .config import FakeConfig
from .platform_state import PARTY_STATUSES, TERMINAL_STATUSES

DEFAULT_SUBSCRIPTION_TTL = 604_800  # 7 days: RingCentral's default for WebHook subscriptions
MAX_SUBSCRIPTION_TTL = 315_360_000  # 10 years: the most a WebHook subscription may live

_TELEPHONY_FILTER = re.compile(
    r"^/restapi/v1\.0/account/(?P<account>[^/?]+)(?:/extension/(?P<extension>[^/?]+))?"
    r"/telephony/sessions(?:\?.*)?$"
)
_ANY_FILTER = re.compile(r"^/restapi/v1\.0/account/(?P<account>[^/?]+)(?P<rest>[/?].*)?$")


@dataclass
class Subscription:
    id: str
    event_filters: list[str]
    address: str
    verification_token: str | None
    expires_in: int
    created_at: float
    expires_at: float


class SubscriptionState:
    """The part of ``FakeState`` that keeps WebHook subscriptions and delivers notifications."""

    lock: threading.RLock
    config: FakeConfig
    base_url: str
    calls: dict[str, seed.Call]
    subscriptions: dict[str, Subscription]
    sequences: dict[str, int]
    deliveries: deque[dict[str, Any]]
    sink: deque[dict[str, Any]]
    now: Callable[[], float]  # FakeState's clock
    _forget_call: Callable[[str], None]  # PlatformState's

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
