"""Everything the fake remembers, behind one lock, and the operations on it.

The HTTP routes and the Python API (``FakeRingCentral``) both call these methods, so a test
that injects a fault or delivers an event directly sees exactly what an HTTP caller would.
Outgoing HTTP (webhook validation and delivery) always happens outside the lock.
``FakeState`` is assembled from one part per concern: ``PlatformState`` (RingCentral tokens,
rate limits, calls), ``SubscriptionState`` (WebHook subscriptions, notifications),
``RingCXState`` (RingCX tokens, media products) and ``FaultsAndRequestLog`` (shared).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from . import seed
from .config import RATE_LIMIT_GROUPS, FakeConfig
from .faults import Fault, FaultsAndRequestLog
from .platform_state import PlatformState
from .ringcx_state import RingCXState
from .subscriptions import Subscription, SubscriptionState

LOG_LIMIT = 10_000


class FakeState(PlatformState, SubscriptionState, RingCXState, FaultsAndRequestLog):
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

    def expire_tokens(self) -> None:
        """Every platform and RingCX access token expires now; refresh tokens still work."""
        with self.lock:
            expired = self.now() - 1
            for store in (self.access_tokens, self.ringcx_access_tokens):
                for token in store:
                    store[token] = expired

    # --- overview -----------------------------------------------------------------------------

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
