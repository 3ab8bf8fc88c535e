"""Reading a call's ``stream_stats`` (written by the ingest) for display: one place.

The JSON is read defensively (a demo call has none; PostgreSQL's jsonb reorders keys).
"""

from __future__ import annotations

from typing import Any

LEG_ORDER = {"Participant": 0, "Conference": 1}  # agent first, then caller

# (key in stream_stats["perspectives"][name], long heading, short heading), in reading order.
PERSPECTIVE_FIELDS = (
    ("channel", "channel", "CHANNEL"),
    ("frames_received", "frames received", "FRAMES"),
    ("duplicates", "duplicates", "DUPS"),
    ("reordered", "reordered", "REORDERED"),
    ("gaps_filled_frames", "gap frames filled", "GAP FRAMES"),
    ("gaps_filled_ms", "gap ms filled", "GAP MS"),
    ("late_dropped", "late dropped", "LATE"),
    ("bytes", "bytes", "BYTES"),
    ("first_sequence", "first sequence", "FIRST SEQ"),
    ("last_sequence", "last sequence", "LAST SEQ"),
    ("offset_frames", "offset frames", "OFFSET"),
    ("samples_written", "samples written", "SAMPLES"),
    ("stopped", "stopped", "STOPPED"),
)


def stats_mapping(stats: Any, key: str) -> dict[str, Any]:
    """``stats[key]`` if it is a mapping, else ``{}``."""
    value = stats.get(key) if isinstance(stats, dict) else None
    return value if isinstance(value, dict) else {}


def stats_perspectives(stats: Any) -> dict[str, dict[str, Any]]:
    """Per-leg statistics, agent first, then caller, then anything else by name."""
    found = {n: v for n, v in stats_mapping(stats, "perspectives").items() if isinstance(v, dict)}
    return dict(sorted(found.items(), key=lambda item: (LEG_ORDER.get(item[0], 2), item[0])))
