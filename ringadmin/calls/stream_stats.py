"""Reading a call's ``stream_stats`` (written by the ingest) for display: one place.

The keys and their order come from :mod:`ringadmin.calls.stream_stats_layout`, the layout the
ingest writes; a key found in the data but not in the layout yet is shown after them, so
nothing the ingest records is hidden. The JSON is read defensively (a demo call has none;
PostgreSQL's jsonb reorders keys).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_type_hints, is_typeddict

from ringadmin.calls.stream_stats_layout import (
    Label,
    PerspectiveStats,
    StreamStats,
    label,
    layout_keys,
)

LEG_ORDER = {"Participant": 0, "Conference": 1}  # agent first, then caller
_SECTION_LAYOUTS = {
    key: hint for key, hint in get_type_hints(StreamStats).items() if is_typeddict(hint)
}
# The call-wide sections (``recording``, ``taps``, ``lag_ms``), in layout order.
SECTIONS = tuple(_SECTION_LAYOUTS)


def stats_mapping(stats: Any, key: str) -> dict[str, Any]:
    """``stats[key]`` if it is a mapping, else ``{}``."""
    value = stats.get(key) if isinstance(stats, dict) else None
    return value if isinstance(value, dict) else {}


def stats_perspectives(stats: Any) -> dict[str, dict[str, Any]]:
    """Per-leg statistics, agent first, then caller, then anything else by name."""
    found = {n: v for n, v in stats_mapping(stats, "perspectives").items() if isinstance(v, dict)}
    return dict(sorted(found.items(), key=lambda item: (LEG_ORDER.get(item[0], 2), item[0])))


def perspective_columns(stats: Any) -> list[tuple[str, Label]]:
    """The per-leg columns: every key of the layout, then any other key a leg has."""
    known = layout_keys(PerspectiveStats)
    found = {str(key) for leg in stats_perspectives(stats).values() for key in leg}
    keys = (*known, *sorted(found - set(known)))
    return [(key, label(PerspectiveStats, key)) for key in keys]


def section_items(stats: Any, key: str) -> list[tuple[str, Any]]:
    """The (key, value) pairs of the section ``stats[key]`` (``recording``, ``taps``,
    ``lag_ms``): the layout's keys present, in order, then any others by name."""
    values = stats_mapping(stats, key)
    layout = _SECTION_LAYOUTS.get(key)
    known = layout_keys(layout) if layout is not None else ()
    listed = [(k, values[k]) for k in known if k in values]
    return listed + [(str(k), values[k]) for k in sorted(values, key=str) if k not in known]


def unknown_items(stats: Any) -> list[tuple[str, Any]]:
    """Call-wide values not in the layout (yet), by name: shown as they are."""
    if not isinstance(stats, dict):
        return []
    known = set(layout_keys(StreamStats))
    return [(str(k), stats[k]) for k in sorted(stats, key=str) if k not in known]


def compact(value: Any) -> str:
    """A value on one line: mappings as ``{key: value, …}``, ``None`` as nothing."""
    if value is None:
        return ""
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {compact(v)}" for k, v in value.items()) + "}"
    return str(value)
