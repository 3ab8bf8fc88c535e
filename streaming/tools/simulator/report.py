"""What the simulator sent and how each socket ended: per perspective, per call, in total."""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from streaming.audio.lag import LagHistogram

from .audio import FRAME_SECONDS


class SentFrame(NamedTuple):
    """One Media message as sent, so a test can rebuild the recording the server should make."""

    perspective: str
    sequence_id: int
    payload: bytes
    duplicate: bool  # a repeat of a frame already sent
    late: bool  # sent over a second after its slot
    offset: float  # when it was sent, seconds after the socket's stream clock started
    sent_at: float  # when it was sent, epoch seconds (its "sentAt")


@dataclass
class PerspectiveReport:
    frames_planned: int = 0  # audio frames of the call in this perspective
    frames_sent: int = 0  # distinct frames sent (each sequence id once)
    frames_dropped: int = 0  # withheld on purpose (--drop)
    duplicates_sent: int = 0  # extra copies sent (--duplicate)
    frames_reordered: int = 0  # frames held back behind later ones (--reorder)
    frames_late: int = 0  # frames sent over a second after their slot (--late)
    frames_unsent: int = 0  # never sent: the socket was refused, failed or closed by the server
    stops_sent: int = 0
    first_sequence_id: int | None = None
    last_sequence_id: int | None = None


@dataclass
class ConnectionReport:
    """One WebSocket: how the handshake went and how it ended."""

    perspectives: list[str]
    attempt: int  # 0 for the first connection, 1 after --reconnect-at
    outcome: str = "pending"  # accepted | rejected | failed | timeout
    status_code: int | None = None  # the HTTP status of a refused handshake
    error: str = ""
    closed_by: str | None = None  # client | client-drop | server | network | deadline
    close_code: int | None = None
    close_reason: str = ""
    messages_sent: int = 0
    messages_received: int = 0
    backpressure_waits: int = 0  # sends that waited over 5 ms for the server to read


@dataclass
class CallReport:
    call_id: str
    session_id: str
    perspectives: dict[str, PerspectiveReport]
    connections: list[ConnectionReport] = field(default_factory=list)
    malformed_sent: dict[str, int] = field(default_factory=dict)
    sent_frames: list[SentFrame] | None = None

    @property
    def completed(self) -> bool:
        """Every socket was accepted, streamed all its frames, sent its Stops and ended
        normally (code 1000, or our own deliberate drop)."""
        return (
            bool(self.connections)
            and all(
                c.outcome == "accepted" and (c.closed_by == "client-drop" or c.close_code == 1000)
                for c in self.connections
            )
            and all(p.frames_unsent == 0 and p.stops_sent >= 1 for p in self.perspectives.values())
        )

    def to_dict(self, *, frames: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "call_id": self.call_id,
            "session_id": self.session_id,
            "completed": self.completed,
            "perspectives": {k: asdict(v) for k, v in self.perspectives.items()},
            "connections": [asdict(c) for c in self.connections],
            "malformed_sent": dict(self.malformed_sent),
        }
        if frames and self.sent_frames is not None:
            data["sent_frames"] = [
                [f.perspective, f.sequence_id, base64.b64encode(f.payload).decode(), f.duplicate]
                for f in self.sent_frames
            ]
        return data


@dataclass
class SimulationReport:
    config: dict[str, Any]
    seed: int
    frames_per_perspective: int
    calls: list[CallReport]
    started_at: float  # epoch seconds
    elapsed: float  # seconds
    send_lag: LagHistogram  # how late each Media send was against its schedule (real time)
    first_media_at: float | None  # epoch time of the first and last Media send (throughput)
    last_media_at: float | None
    media_cpu: float | None = None  # this process's CPU use while Media flowed (1.0 = a core)
    timed_out: bool = False

    def totals(self) -> dict[str, Any]:
        per_perspective: dict[str, dict[str, int]] = {}
        for call in self.calls:
            for name, report in call.perspectives.items():
                bucket = per_perspective.setdefault(name, {})
                for key, value in asdict(report).items():
                    if key.startswith("frames_") or key in ("duplicates_sent", "stops_sent"):
                        bucket[key] = bucket.get(key, 0) + value
        connections: dict[str, Any] = {
            "accepted": 0,
            "rejected": {},
            "failed": 0,
            "timeout": 0,
            "closed": {},
        }
        messages = 0
        for call in self.calls:
            for c in call.connections:
                messages += c.messages_sent
                if c.outcome == "rejected":
                    key = str(c.status_code)
                    connections["rejected"][key] = connections["rejected"].get(key, 0) + 1
                elif c.outcome in ("failed", "timeout"):
                    connections[c.outcome] += 1
                else:
                    connections["accepted"] += 1
                if c.closed_by:
                    key = f"{c.closed_by} {c.close_code}"
                    connections["closed"][key] = connections["closed"].get(key, 0) + 1
        malformed: dict[str, int] = {}
        for call in self.calls:
            for kind, count in call.malformed_sent.items():
                malformed[kind] = malformed.get(kind, 0) + count
        media_span = (
            self.last_media_at - self.first_media_at
            if self.first_media_at is not None and self.last_media_at is not None
            else 0.0
        )
        media = sum(p["frames_sent"] + p["duplicates_sent"] for p in per_perspective.values())
        return {
            "calls": len(self.calls),
            "calls_completed": sum(1 for c in self.calls if c.completed),
            "perspectives": per_perspective,
            "connections": connections,
            "malformed_sent": malformed,
            "messages_sent": messages,
            "media_per_second": round(media / media_span, 1) if media_span > 0 else None,
        }

    @property
    def ok(self) -> bool:
        return not self.timed_out and all(call.completed for call in self.calls)

    def to_dict(self, *, frames: bool = False) -> dict[str, Any]:
        return {
            "config": self.config,
            "seed": self.seed,
            "ok": self.ok,
            "timed_out": self.timed_out,
            "frames_per_perspective": self.frames_per_perspective,
            "started_at": self.started_at,
            "elapsed": round(self.elapsed, 3),
            "first_media_at": self.first_media_at,
            "last_media_at": self.last_media_at,
            "media_cpu": self.media_cpu,
            "send_lag_ms": self.send_lag.to_dict(),
            "totals": self.totals(),
            "calls": [call.to_dict(frames=frames) for call in self.calls],
        }


def format_summary(report: SimulationReport, *, max_calls: int = 50) -> str:
    """The human summary: totals, connection outcomes, send lag, then one line per call."""
    config, totals = report.config, report.totals()
    mode = "real time" if config["realtime"] else "flood"
    lines = [
        f"RingCX simulation: {totals['calls']} call(s) x {report.frames_per_perspective} frames "
        f"({report.frames_per_perspective * FRAME_SECONDS:.1f} s) to {config['url']} "
        f"[{mode}, seed {report.seed}] in {report.elapsed:.1f} s"
        + ("  TIMED OUT" if report.timed_out else ""),
    ]
    c = totals["connections"]
    rejected = ", ".join(f"HTTP {k}: {v}" for k, v in c["rejected"].items()) or "0"
    closed = ", ".join(f"{k}: {v}" for k, v in sorted(c["closed"].items())) or "none"
    lines.append(
        f"connections: {c['accepted']} accepted, rejected {rejected}, {c['failed']} failed, "
        f"{c['timeout']} timed out; closed: {closed}"
    )
    for name, p in totals["perspectives"].items():
        lines.append(
            f"{name:<11} sent {p['frames_sent']:>8,} of {p['frames_planned']:,}  dropped "
            f"{p['frames_dropped']:,}  duplicates {p['duplicates_sent']:,}  reordered "
            f"{p['frames_reordered']:,}  late {p['frames_late']:,}  unsent {p['frames_unsent']:,}"
            f"  stops {p['stops_sent']:,}"
        )
    if totals["malformed_sent"]:
        lines.append(
            "malformed: " + ", ".join(f"{k} {v}" for k, v in totals["malformed_sent"].items())
        )
    lag = report.send_lag
    if lag.count:
        lines.append(
            f"send lag vs schedule: p50 {lag.percentile(0.5):.0f} ms, p99 "
            f"{lag.percentile(0.99):.0f} ms, max {lag.max_ms:.1f} ms"
        )
    if totals["media_per_second"]:
        lines.append(f"media messages per second: {totals['media_per_second']:,.0f}")
    lines.append("calls:")
    for call in report.calls[:max_calls]:
        parts = []
        for name, p in call.perspectives.items():
            extras = [
                f"{label} {value}"
                for label, value in (
                    ("dropped", p.frames_dropped),
                    ("dup", p.duplicates_sent),
                    ("reordered", p.frames_reordered),
                    ("late", p.frames_late),
                    ("unsent", p.frames_unsent),
                )
                if value
            ]
            parts.append(f"{name} {p.frames_sent}" + (f" ({', '.join(extras)})" if extras else ""))
        outcomes = []
        for conn in call.connections:
            if conn.outcome == "rejected":
                outcomes.append(f"rejected HTTP {conn.status_code}")
            elif conn.outcome != "accepted":
                outcomes.append(f"{conn.outcome}: {conn.error}")
            else:
                outcomes.append(
                    f"closed by {conn.closed_by} {conn.close_code}"
                    + (f" {conn.close_reason!r}" if conn.close_reason else "")
                )
        lines.append(f"  {call.call_id}: {'; '.join(parts)} | {'; '.join(outcomes)}")
    if len(report.calls) > max_calls:
        lines.append(f"  … {len(report.calls) - max_calls} more (use --json for all)")
    return "\n".join(lines)
