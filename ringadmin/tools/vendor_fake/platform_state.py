"""RingCentral platform state: OAuth tokens, the rate-limit groups, and the calls in progress
(what presence and supervision see)."""

from __future__ import annotations

import math
import secrets
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from . import seed
from .common import iso
from .config import FakeConfig

PLATFORM_SCOPE = "ReadAccounts CallControl ReadPresence SubscriptionWebhook TelephonySessions"
TERMINAL_STATUSES = frozenset({"Disconnected", "Gone"})
PARTY_STATUSES = frozenset({"Setup", "Proceeding", "Answered", "Hold", "Parked", "Voicemail"})
PARTY_STATUSES = PARTY_STATUSES | TERMINAL_STATUSES
TELEPHONY_STATUS = {"Answered": "CallConnected", "Hold": "OnHold"}


class PlatformState:
    """The part of ``FakeState`` that answers for the RingCentral platform: tokens, rate
    limits and calls. Starting or ending a call notifies subscribers (``SubscriptionState``)."""

    lock: threading.RLock
    config: FakeConfig
    access_tokens: dict[str, float]
    refresh_tokens: dict[str, float]
    tokens_issued: int
    rate_hits: dict[str, deque[float]]
    rate_blocked_until: dict[str, float]
    extensions: dict[str, seed.Extension]
    calls: dict[str, seed.Call]
    supervisors: dict[str, str]
    supervisor_parties: dict[tuple[str, str], dict[str, Any]]
    now: Callable[[], float]  # FakeState's clock
    notify: Callable[..., dict[str, Any]]  # SubscriptionState's

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
