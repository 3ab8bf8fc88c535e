"""The ingest benchmark's report: the table, the JSON, and each target met or not."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import fields
from pathlib import Path
from typing import Any

from .rounds import BenchSettings, ServerSummary

TARGET_CALLS_PER_CORE = 200
TARGET_RATIO = 0.6
TARGET_RSS_PER_CALL = 1024 * 1024


def targets(summaries: Iterable[ServerSummary]) -> list[dict[str, Any]]:
    """Each target the ingest is held to, for each of our servers: the figure and whether it
    is met."""
    checks = []
    for s in summaries:
        if s.server == "reference":
            continue
        checks.append(
            {
                "server": s.server,
                "target": f">= {TARGET_CALLS_PER_CORE} real-time calls per core",
                "value": s.calls_per_core,
                "met": s.calls_per_core is not None and s.calls_per_core >= TARGET_CALLS_PER_CORE,
            }
        )
        checks.append(
            {
                "server": s.server,
                "target": f">= {TARGET_RATIO} of the reference",
                "value": s.ratio_to_reference,
                "met": s.ratio_to_reference is not None and s.ratio_to_reference >= TARGET_RATIO,
            }
        )
        checks.append(
            {
                "server": s.server,
                "target": "<= 1 MB RSS per call",
                "value": None if s.rss_per_call is None else round(s.rss_per_call / 2**20, 3),
                "met": s.rss_per_call is not None and s.rss_per_call <= TARGET_RSS_PER_CALL,
            }
        )
    return checks


def format_table(summaries: list[ServerSummary], *, settings: BenchSettings) -> str:
    pinned = settings.server_cpu is not None
    header = (
        f"{'server':<10} {'max calls':>9} {'calls/core':>10} {'vs ref':>6} {'p99 lag':>8} "
        f"{'flood frames/s':>14} {'RSS/call':>9}  notes"
    )
    lines = [
        f"Ingest benchmark: {settings.duration:g} s real-time rounds, p99 lag < "
        f"{settings.p99_limit_ms:g} ms and zero loss; server "
        + (f"pinned to CPU {settings.server_cpu}" if pinned else "NOT pinned (cannot pin here)")
        + (f", simulator on CPU {settings.client_cpu}" if settings.client_cpu is not None else ""),
        header,
        "-" * len(header),
    ]
    for s in summaries:
        notes = []
        if s.error:
            notes.append(s.error)
        if s.lower_bound:
            notes.append("lower bound: the simulator was the limit")
        if s.max_calls is not None and s.max_calls >= settings.max_calls:
            notes.append("reached --max-calls")
        if s.max_calls is None and s.rounds:
            smallest = min(s.rounds, key=lambda r: r.calls)
            notes.append(
                f"no round passed; at {smallest.calls} calls: {'; '.join(smallest.reasons)}"
                f" (p99 {smallest.lag_ms.get('p99')} ms, {smallest.frames_over_limit} frames "
                f"over {settings.p99_limit_ms:g} ms)"
            )
        if s.flood_round is not None and s.flood_round.client_limited:
            notes.append("flood limited by the simulator")
        if s.flood_frames_per_cpu_second is not None:
            notes.append(f"flood {s.flood_frames_per_cpu_second:,.0f} frames per CPU-second")
        at_least = s.lower_bound or (s.max_calls or 0) >= settings.max_calls
        max_calls = _cell(s.max_calls, ("≥{}" if at_least else "{}").format)
        lines.append(
            f"{s.server:<10} {max_calls:>9} {_cell(s.calls_per_core, '{:g}'.format):>10} "
            f"{_cell(s.ratio_to_reference, '{:.2f}'.format):>6} "
            f"{_cell(s.p99_lag_ms, '{:g} ms'.format):>8} "
            f"{_cell(s.flood_frames_per_second, '{:,.0f}'.format):>14} "
            f"{_cell(s.rss_per_call, lambda v: f'{v / 2**20:.2f} MB'):>9}  " + "; ".join(notes)
        )
    checks = targets(summaries)
    if checks:
        lines.append("")
        lines.append("targets:")
        for check in checks:
            value = "-" if check["value"] is None else check["value"]
            lines.append(
                f"  {check['server']:<8} {check['target']:<36} {value!s:>8}  "
                + ("met" if check["met"] else "NOT met")
            )
    return "\n".join(lines)


def _cell(value: Any, render: Callable[[Any], str]) -> str:
    return "-" if value is None else render(value)


def bench_report(summaries: list[ServerSummary], *, settings: BenchSettings) -> dict[str, Any]:
    return {
        "settings": {
            f.name: (str(value) if isinstance(value, Path) else value)
            for f in fields(settings)
            if f.name not in ("log", "database_url")
            for value in [getattr(settings, f.name)]
        },
        "pinned": settings.server_cpu is not None,
        "servers": [s.to_dict() for s in summaries],
        "targets": targets(summaries),
    }
