"""Send→written lag in millisecond buckets, shared by the ingest and its benchmark tools so
histograms from many calls and servers merge exactly and give the same percentiles."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

# Lags are measured from the sender's own ``sentAt``, so any value can arrive: beyond a second
# the buckets widen and beyond two minutes there is one, so a call's histogram stays small.
_FINE_MS, _COARSE_MS, _LAST_MS = 1000, 10_000, 120_000


def lag_bucket(lag_ms: float) -> int:
    """The bucket of a lag: whole milliseconds to 1 s, 10 ms to 10 s, 1 s to 2 minutes."""
    if not lag_ms > 0:  # also NaN
        return 0
    if lag_ms < _FINE_MS:
        return round(lag_ms)
    if lag_ms < _COARSE_MS:
        return int(round(lag_ms, -1))
    if lag_ms < _LAST_MS:
        return int(round(lag_ms, -3))
    return _LAST_MS


class LagHistogram:
    """Lags in whole-millisecond buckets (rounded; wider past a second, see
    :func:`lag_bucket`), the shape the ingest's ``lag_ms`` uses, so histograms from many
    calls and servers merge exactly and give the same percentiles."""

    __slots__ = ("counts", "max_ms")

    def __init__(self, counts: Mapping[int | str, int] | None = None) -> None:
        self.counts: dict[int, int] = {}
        self.max_ms = 0.0
        if counts:
            self.merge(counts)

    def add(self, lag_ms: float) -> None:
        bucket = round(lag_ms) if 0 < lag_ms < _FINE_MS else lag_bucket(lag_ms)
        self.counts[bucket] = self.counts.get(bucket, 0) + 1
        if lag_ms > self.max_ms:
            self.max_ms = min(lag_ms, _LAST_MS)  # finite: it ends up in JSON

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
