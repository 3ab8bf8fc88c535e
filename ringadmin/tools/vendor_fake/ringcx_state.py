"""RingCX state: its access and refresh tokens, the per-minute limit on exchanging a platform
token for one, and the media products (streaming profiles) it stores."""

from __future__ import annotations

import math
import secrets
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from .config import FakeConfig


class RingCXState:
    """The part of ``FakeState`` that answers for RingCX."""

    lock: threading.RLock
    config: FakeConfig
    ringcx_access_tokens: dict[str, float]
    ringcx_refresh_tokens: dict[str, float]
    ringcx_exchange_hits: deque[float]
    tokens_issued: int
    media_products: dict[tuple[str, str, int], dict[str, Any]]
    now: Callable[[], float]  # FakeState's clock

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

    def media_product_list(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(p) for p in self.media_products.values()]
