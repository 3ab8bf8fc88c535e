"""Send→written lag in millisecond buckets (whole milliseconds up to a second), shared by the
ingest and its benchmark tools so histograms from many calls and servers merge exactly and give
the same percentiles."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

EXACT_UP_TO_MS = 1000  # whole-millisecond buckets up to here; two significant digits above
MAX_LAG_MS = 3_600_000  # longer lags (or a sender's absurd clock) count as this


def lag_bucket(lag_ms: float) -> int:
    """The bucket of a lag. Above a second the buckets widen (two significant digits) and an
    hour caps them: whatever clock a sender claims, a call holds at most ~1,300 buckets."""
    if lag_ms <= EXACT_UP_TO_MS:
        return round(lag_ms) if lag_ms > 0 else 0
    if not lag_ms < MAX_LAG_MS:  # also infinity and NaN
        return MAX_LAG_MS
    step: int = 10 ** (len(str(int(lag_ms))) - 2)  # lag_ms > 1000, so a whole power of ten
    return round(lag_ms / step) * step


class LagHistogram:
    """Lags in millisecond buckets (see :func:`lag_bucket`), the shape the ingest's ``lag_ms``
    uses, so histograms from many calls and servers merge exactly and give the same
    percentiles."""

    __slots__ = ("counts", "max_ms")

    def __init__(self, counts: Mapping[int | str, int] | None = None) -> None:
        self.counts: dict[int, int] = {}
        self.max_ms = 0.0
        if counts:
            self.merge(counts)

    def add(self, lag_ms: float) -> None:
        if 0 < lag_ms <= EXACT_UP_TO_MS:  # the usual case, inline
            bucket = round(lag_ms)
        else:
            bucket = lag_bucket(lag_ms)
            lag_ms = min(lag_ms, MAX_LAG_MS)
        self.counts[bucket] = self.counts.get(bucket, 0) + 1
        if lag_ms > self.max_ms:
            self.max_ms = lag_ms

    def merge(self, counts: Mapping[int | str, int]) -> None:
        for key, value in counts.items():
            bucket = lag_bucket(float(key))
            self.counts[bucket] = self.counts.get(bucket, 0) + int(value)
            self.max_ms = max(self.max_ms, float(bucket))

    @property
    def count(self) -> int:
        return sum(self.counts.values())

    def at_least(self, limit_ms: float) -> int:
        """How many lags reached ``limit_ms``."""
        return sum(count for bucket, count in self.counts.items() if bucket >= limit_ms)

    def percentile(self, fraction: float) -> float | None:
        """Nearest-rank percentile: the bucket holding the (fraction * count)-th lag."""
        total = self.count
        if not total:
            return None
        rank = max(1, math.ceil(fraction * total))
        running = 0
        for bucket in sorted(self.counts):
            running += self.counts[bucket]
            if running >= rank:
                return float(bucket)
        return float(max(self.counts))

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "p50": self.percentile(0.50),
            "p95": self.percentile(0.95),
            "p99": self.percentile(0.99),
            "max": round(self.max_ms, 3) if self.counts else None,
            "histogram": {str(k): self.counts[k] for k in sorted(self.counts)},
        }
