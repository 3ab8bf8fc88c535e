"""A call's statistics across its recordings.

A call whose socket comes back after its process ended (or after its reconnect grace) goes on
in a new recording, with a new pipeline whose statistics start from zero. The call's record
must still describe the whole call from its first socket: its earlier statistics are carried
into every later report.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from streaming.audio.lag import LagHistogram

logger = logging.getLogger("streaming.ingest")

# Per-leg values that are positions, not counts: the first comes from the earliest recording,
# the rest from the latest.
_FIRST = frozenset({"first_sequence", "offset_frames"})
_POSITIONS = _FIRST | {"last_sequence", "frame_bytes"}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _counts(earlier: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    merged = dict(earlier)
    for key, value in current.items():
        before = earlier.get(key)
        if key in _FIRST and before is not None:
            continue
        if key not in _POSITIONS and _number(value) and _number(before):
            merged[key] = before + value
        elif value is not None or key not in merged:
            merged[key] = value
    return merged


def stats_continued(
    earlier: Mapping[str, Any] | None, current: Mapping[str, Any]
) -> dict[str, Any]:
    """``current`` (this recording's pipeline) counted on from ``earlier`` (the call's
    statistics when it came back): counters summed, the whole call's recorded seconds."""
    if not earlier:
        return dict(current)
    try:
        merged = dict(current)
        merged["sockets"] = earlier.get("sockets", 0) + current["sockets"]
        merged["errors"] = _counts(earlier.get("errors") or {}, current["errors"])
        if earlier.get("numbering") not in (None, "undetermined", current["numbering"]):
            if current["numbering"] != "undetermined":
                merged["numbering"] = "mixed"
            else:
                merged["numbering"] = earlier["numbering"]
        before_legs = earlier.get("perspectives") or {}
        merged["perspectives"] = {
            name: _counts(before_legs.get(name) or {}, leg)
            for name, leg in current["perspectives"].items()
        }
        before_seconds = (earlier.get("recording") or {}).get("seconds") or 0
        merged["recording"] = {
            **current["recording"],
            "seconds": round(before_seconds + current["recording"]["seconds"], 3),
            "earlier_seconds": before_seconds,
        }
        dropped = (earlier.get("taps") or {}).get("dropped") or 0
        merged["taps"] = {**current["taps"], "dropped": dropped + current["taps"]["dropped"]}
        lags = [s["lag_ms"]["histogram"] for s in (earlier, current) if "lag_ms" in s]
        if lags:
            lag = LagHistogram()
            for histogram in lags:
                lag.merge(histogram)
            merged["lag_ms"] = lag.to_dict()
        return merged
    except (KeyError, TypeError, ValueError, AttributeError):
        logger.warning("the call's earlier statistics are unreadable; reporting this part only")
        return dict(current)
