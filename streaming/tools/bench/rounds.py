"""The ingest benchmark's settings and results, and its pure parts: judging a round against
the bar (zero loss, p99 lag under the limit) and searching for the largest passing N."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from streaming.tools.simulator import PERSPECTIVES, LagHistogram

CLIENT_BOUND_CPU = 0.9  # a simulator this busy may be the limit, not the server


class BenchError(RuntimeError):
    """The benchmark could not run (a server would not start, setup failed)."""


@dataclass
class BenchSettings:
    servers: list[str]
    work_dir: Path
    duration: float = 10.0
    start_calls: int = 50
    max_calls: int = 1000
    rounds: int = 10  # real-time search steps per server
    repeat: int = 1  # rounds per step; the median p99 decides (noisy machines: use 3)
    p99_limit_ms: float = 50.0
    flood_calls: int = 50
    flood_duration: float = 10.0
    flood: bool = True
    server_cpu: int | None = 0  # None = not pinned (checked with can_pin by the caller)
    client_cpu: int | None = 1
    time_budget: float = 3600.0  # seconds for the whole benchmark
    database_url: str | None = None  # None = a fresh SQLite file in the work directory
    finalize_timeout: float = 60.0
    log: Callable[[str], None] = print


@dataclass
class RoundResult:
    """One round of N calls against one server, and whether it met the bar."""

    server: str
    calls: int
    realtime: bool
    passed: bool = False
    reasons: list[str] = field(default_factory=list)
    frames_sent: int = 0
    frames_received: int = 0
    frames_lost: int = 0
    gaps_filled: int = 0
    late_dropped: int = 0
    calls_missing: int = 0
    connections_refused: int = 0
    lag_ms: dict[str, Any] = field(default_factory=dict)
    frames_over_limit: int = 0  # frames whose lag reached the p99 limit
    client_send_lag_p99_ms: float | None = None
    client_cpu: float | None = None  # the simulator's, while media flowed (1.0 = one core)
    server_cpu: float | None = None
    client_limited: bool = False
    rss_baseline: int = 0
    rss_peak: int = 0
    frames_per_second: float | None = None
    frames_per_cpu_second: float | None = None  # frames per second of server CPU: noise-proof
    elapsed: float = 0.0
    repeats: list[dict[str, Any]] = field(default_factory=list)  # each round when repeated

    @property
    def rss_per_call(self) -> float | None:
        if not self.calls or not self.rss_peak:
            return None
        return max(0, self.rss_peak - self.rss_baseline) / self.calls

    def summary(self) -> str:
        lag = self.lag_ms.get("p99")
        verdict = "pass" if self.passed else "FAIL: " + "; ".join(self.reasons)
        return (
            f"{self.server} {'real-time' if self.realtime else 'flood'} {self.calls} calls: "
            f"{verdict} (p99 lag {lag if lag is not None else '-'} ms, "
            f"{self.frames_over_limit} frames over the limit, lost {self.frames_lost}, "
            f"server cpu {_pct(self.server_cpu)}, client cpu {_pct(self.client_cpu)}, "
            f"client send lag p99 {self.client_send_lag_p99_ms} ms)"
        )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def evaluate_round(
    *,
    result: RoundResult,
    report: Mapping[str, Any],
    received: Mapping[str, Mapping[str, Mapping[str, Any]]],
    lag: LagHistogram,
    p99_limit_ms: float,
) -> RoundResult:
    """Judge a round: every frame the simulator sent was received and none was gap-filled or
    dropped as late; every call was accepted and finished; p99 lag under the limit.

    ``report`` is the simulator's JSON report; ``received`` maps call id → perspective →
    the server's counters (``frames_written`` or else ``frames_received``, distinct frames;
    from the ingest also ``gaps_filled_frames`` and ``late_dropped``).
    """
    reasons = result.reasons
    for call in report["calls"]:
        server_call = received.get(call["call_id"])
        refused = [c for c in call["connections"] if c["outcome"] != "accepted"]
        result.connections_refused += len(refused)
        if server_call is None:
            result.calls_missing += 1
        for name in PERSPECTIVES:
            sent = call["perspectives"][name]["frames_sent"]
            unsent = call["perspectives"][name]["frames_unsent"]
            result.frames_sent += sent
            counters = (server_call or {}).get(name) or {}
            # The ingest's frames_received counts duplicates too; frames_written does not.
            got = int(counters.get("frames_written", counters.get("frames_received", 0)) or 0)
            result.frames_received += min(got, sent)
            result.frames_lost += max(0, sent - got) + unsent
            result.gaps_filled += int(counters.get("gaps_filled_frames", 0) or 0)
            result.late_dropped += int(counters.get("late_dropped", 0) or 0)
    if result.connections_refused:
        reasons.append(f"{result.connections_refused} connection(s) refused or failed")
    if result.calls_missing:
        reasons.append(f"{result.calls_missing} call(s) missing on the server")
    if result.frames_lost:
        reasons.append(f"{result.frames_lost} frame(s) lost")
    if result.gaps_filled:
        reasons.append(f"{result.gaps_filled} frame(s) gap-filled")
    if result.late_dropped:
        reasons.append(f"{result.late_dropped} frame(s) dropped as late")
    if report.get("timed_out"):
        reasons.append("the simulator hit its deadline")
    result.lag_ms = {k: v for k, v in lag.to_dict().items() if k != "histogram"}
    result.frames_over_limit = lag.at_least(p99_limit_ms)
    p99 = lag.percentile(0.99)
    if result.realtime:
        if p99 is None:
            reasons.append("no lag measured")
        elif p99 >= p99_limit_ms:
            reasons.append(f"p99 lag {p99:.0f} ms ≥ {p99_limit_ms:.0f} ms")
    client_lag = report.get("send_lag_ms") or {}
    result.client_send_lag_p99_ms = client_lag.get("p99")
    first, last = report.get("first_media_at"), report.get("last_media_at")
    if first is not None and last is not None and result.frames_received:
        span = (last - first) + (lag.max_ms or 0) / 1000.0
        if span > 0:
            result.frames_per_second = round(result.frames_received / span, 1)
    # The simulator's own CPU while media flowed (its start-up and teardown would dilute it).
    result.client_cpu = report.get("media_cpu")
    busy = bool(result.client_cpu and result.client_cpu >= CLIENT_BOUND_CPU)
    if result.realtime:
        result.client_limited = busy
    else:
        # A flood is limited by the simulator only if the server kept up with what it sent.
        sent_rate = (report.get("totals") or {}).get("media_per_second") or 0
        result.client_limited = busy and (result.frames_per_second or 0) >= 0.9 * sent_rate
    result.passed = not reasons
    return result


def combine_repeats(results: list[RoundResult]) -> RoundResult:
    """Rounds of the same N on a noisy machine: keep the median by p99 lag, but a frame lost
    (or a refused call) in any of them fails the step."""

    def p99(result: RoundResult) -> float:
        value = result.lag_ms.get("p99")
        return float("inf") if value is None else value

    ordered = sorted(results, key=p99)
    median = ordered[len(ordered) // 2]
    lossy = [
        r
        for r in results
        if r.frames_lost or r.gaps_filled or r.late_dropped or r.connections_refused
    ]
    median.repeats = [
        {"p99": r.lag_ms.get("p99"), "passed": r.passed, "reasons": r.reasons} for r in results
    ]
    if lossy and median.passed:
        median.passed = False
        median.reasons.append(f"loss in {len(lossy)} of {len(results)} rounds")
    median.client_limited = any(r.client_limited for r in results) and not median.passed
    return median


def search_max_calls(
    run_round: Callable[[int], RoundResult],
    *,
    start: int,
    max_calls: int,
    max_rounds: int,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[RoundResult | None, list[RoundResult]]:
    """Largest passing N: double from ``start`` until a round fails, then bisect.

    Stops when the bracket is within 5 % (or 2 calls), after ``max_rounds`` rounds, at the
    deadline, or when a failing round was limited by the simulator rather than the server
    (more load could not be offered, so the answer is a lower bound).
    """
    best: RoundResult | None = None
    rounds: list[RoundResult] = []
    low, high = 0, None
    n = max(1, min(start, max_calls))
    while len(rounds) < max_rounds and (deadline is None or clock() < deadline):
        result = run_round(n)
        rounds.append(result)
        if result.passed:
            low, best = n, result
        else:
            high = n
            if result.client_limited:
                break
        if high is None:
            if n >= max_calls:
                break
            n = min(n * 2, max_calls)
        else:
            if high - low <= max(2, int(low * 0.05)):
                break
            n = (low + high) // 2
    return best, rounds


@dataclass
class ServerSummary:
    server: str
    max_calls: int | None = None
    calls_per_core: float | None = None
    lower_bound: bool = False  # the simulator, not the server, was the limit
    ratio_to_reference: float | None = None
    p99_lag_ms: float | None = None
    flood_frames_per_second: float | None = None
    flood_frames_per_cpu_second: float | None = None
    rss_per_call: float | None = None
    error: str = ""
    rounds: list[RoundResult] = field(default_factory=list)
    flood_round: RoundResult | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rounds"] = [asdict(r) | {"rss_per_call": r.rss_per_call} for r in self.rounds]
        if self.flood_round is not None:
            data["flood_round"] = asdict(self.flood_round)
        return data
