"""One retry policy for work that calls another service, in a Celery task or in a terminal.

Retry only failures that may pass (the caller names them), a bounded number of times, after
an exponential backoff with jitter that is never shorter than the service's own
``Retry-After``. A task turns ``next_delay`` into its countdown; a command waits in the
foreground with ``call_with_retries``. Both therefore behave the same for the same failure.
Every task that calls a vendor (RingCentral, RingCX, a speech engine) uses
``ringadmin.vendors.errors.vendor_retry_policy``: the vendor error family's temporary failures,
nothing else. This module knows no vendor: the vendors' package builds on it.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

T = TypeVar("T")
# The longest wait a vendor's Retry-After can ask for: a larger number (or a date years
# ahead) is a broken or hostile answer, and would overflow the task's countdown.
MAX_RETRY_AFTER_SECONDS = 24 * 3600.0


@dataclass(frozen=True)
class RetryPolicy:
    retryable: tuple[type[Exception], ...]
    max_retries: int
    base_seconds: float = 5.0
    max_seconds: float = 600.0  # the longest backoff (a longer Retry-After is still honoured)

    def backoff(self, retries: int) -> float:
        """Random in the upper half of ``base * 2**retries`` (capped at ``max_seconds``), so
        that many callers that failed together do not retry together."""
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** min(retries, 60))
        return random.uniform(ceiling / 2, ceiling)

    def next_delay(self, exc: BaseException, *, retries: int) -> float | None:
        """Seconds to wait before retry ``retries + 1`` after ``exc``; None: do not retry."""
        if not isinstance(exc, self.retryable) or retries >= self.max_retries:
            return None
        delay = self.backoff(retries)
        asked = retry_after_of(exc)
        return delay if asked is None else max(delay, asked)


def retry_after_of(exc: BaseException) -> float | None:
    """The wait a failure carries (``retry_after`` of ``RateLimited`` and ``Unavailable``, or
    of any other exception that has one), if it is a usable number of seconds."""
    value = getattr(exc, "retry_after", None)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return min(MAX_RETRY_AFTER_SECONDS, max(0.0, float(value)))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """An HTTP ``Retry-After`` header as seconds (a number, or an HTTP date), at most
    ``MAX_RETRY_AFTER_SECONDS``; None when absent or unreadable. The one parser of it, for
    every vendor."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, OverflowError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(tz=UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(MAX_RETRY_AFTER_SECONDS, max(0.0, seconds))


def call_with_retries(
    attempt: Callable[[], T],
    *,
    policy: RetryPolicy,
    on_retry: Callable[[Exception, int, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``attempt()``, retried in the foreground as ``policy`` says; the last failure is raised.

    ``on_retry(exc, retry_number, delay)`` runs before each wait, so a user sees why.
    """
    retries = 0
    while True:
        try:
            return attempt()
        except policy.retryable as exc:
            delay = policy.next_delay(exc, retries=retries)
            if delay is None:
                raise
            retries += 1
            if on_retry is not None:
                on_retry(exc, retries, delay)
            sleep(delay)
