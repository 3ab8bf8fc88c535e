"""The ingest benchmark: how many concurrent real-time stereo calls a server takes on one core.

For each server (the bare-websockets reference, our ingest under daphne or uvicorn) it runs
rounds of N simulated calls at real-time pace, the server pinned to one core and the
simulator to another, and searches N by doubling then bisecting for the largest round with
zero lost frames and p99 frame lag (client send → written) under the limit. Then a flood
round gives the most frames per second, and the round at the largest passing N gives the
resident memory per call. Every number comes from the same run on the same machine, so the
ingest is judged against the ceiling Python reaches here, not against a number from
elsewhere.

Nothing here imports Django: the ingest is driven through its own processes
(``manage.py migrate``/``shell``, ``python -m streaming.ingest_server``), as in production.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from streaming.bench.processes import (
    cpu_seconds,
    free_port,
    rss_bytes,
    start_process,
    stop_process,
    wait_for_port,
)
from streaming.simulator import PERSPECTIVES, LagHistogram

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
HOST = "127.0.0.1"
INGEST_SERVERS = ("daphne", "uvicorn", "websockets")
SERVERS = ("reference", *INGEST_SERVERS)
CLIENT_BOUND_CPU = 0.9  # a simulator this busy may be the limit, not the server
RESULT_MARK = "BENCH-JSON "

# The streaming profile the bench creates and the simulator's defaults speak for.
PROFILE = {
    "product_type": "QUEUE",
    "product_id": 1234,
    "sub_account_id": "99990001",
    "main_account_id": "99990000",
    "rc_account_id": "123456789",
    "streaming_url": "wss://bench.example.com",
}

TARGET_CALLS_PER_CORE = 200
TARGET_RATIO = 0.6
TARGET_RSS_PER_CALL = 1024 * 1024


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


# --- Pure parts: judging a round and searching N -------------------------------------------------


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


# --- Servers -------------------------------------------------------------------------------------


class ServerRun:
    """One started server for one round: start, watch memory and CPU, collect, stop."""

    name = "server"

    def __init__(self, bench: Bench, *, round_dir: Path, flood: bool) -> None:
        self.bench = bench
        self.round_dir = round_dir
        self.flood = flood
        self.port = free_port(HOST)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"ws://{HOST}:{self.port}/"

    def argv(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def start(self) -> None:
        self.process = self.bench.track(
            start_process(
                self.argv(),
                env=self.env(),
                cwd=PROJECT_DIR,
                log_path=self.round_dir / f"{self.name}.log",
                cpu=self.bench.settings.server_cpu,
            )
        )
        wait_for_port(HOST, self.port, timeout=60, process=self.process)

    def collect(
        self, *, prefix: str, accepted: int
    ) -> tuple[dict[str, dict[str, dict[str, Any]]], LagHistogram]:
        raise NotImplementedError

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.bench.untrack(self.process)


class ReferenceRun(ServerRun):
    name = "reference"

    def argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "streaming.bench.reference_server",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--out",
            str(self.round_dir / "tracks"),
            "--stats-file",
            str(self.round_dir / "reference-stats.json"),
        ]

    def collect(self, *, prefix: str, accepted: int):
        # Its statistics are complete once it has read every socket to the end and exited.
        assert self.process is not None
        stop_process(self.process, timeout=60)
        self.bench.untrack(self.process)
        stats_file = self.round_dir / "reference-stats.json"
        if not stats_file.exists():
            raise BenchError(f"the reference server wrote no statistics (see {self.round_dir})")
        stats = json.loads(stats_file.read_text())
        # The audio is not judged, only counted: free the disk (hundreds of MB a round).
        shutil.rmtree(self.round_dir / "tracks", ignore_errors=True)
        received = {
            call_id: call["perspectives"]
            for call_id, call in stats["calls"].items()
            if call_id.startswith(prefix)
        }
        return received, LagHistogram(stats["lag_ms"]["histogram"])


class IngestRun(ServerRun):
    def __init__(self, bench: Bench, *, kind: str, round_dir: Path, flood: bool) -> None:
        super().__init__(bench, round_dir=round_dir, flood=flood)
        self.name = kind

    def argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "streaming.ingest_server",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--server",
            self.name,
            "--no-recover",
        ]

    def env(self) -> dict[str, str]:
        env = self.bench.ingest_env()
        if self.flood:
            env["INGEST_MAX_SPEED_RATIO"] = "0"  # a flood is faster than real time on purpose
        return env

    def collect(self, *, prefix: str, accepted: int):
        # Calls are finalized a few seconds after their Stop: wait (bounded) until none is live.
        rows = self.bench.django_json(
            _POLL_CALLS.format(
                prefix=prefix,
                expected=accepted,
                timeout=self.bench.settings.finalize_timeout,
                mark=RESULT_MARK,
            )
        )
        received: dict[str, dict[str, dict[str, Any]]] = {}
        lag = LagHistogram()
        live = 0
        for row in rows:
            _remove_recording(row.get("recording_path"), inside=self.bench.settings.work_dir)
            stats = row.get("stream_stats") or {}
            received[row["ringcx_call_id"]] = stats.get("perspectives") or {}
            lag.merge((stats.get("lag_ms") or {}).get("histogram") or {})
            live += row["status"] == "live"
        if live:
            self.bench.settings.log(f"  {live} call(s) still live after the finalize timeout")
            for row in rows:
                if row["status"] == "live":
                    received.pop(row["ringcx_call_id"], None)
        self.stop()
        return received, lag


_POLL_CALLS = """
import json, time
from ringadmin.calls.models import Call
deadline = time.monotonic() + {timeout}
while True:
    rows = list(Call.objects.filter(ringcx_call_id__startswith={prefix!r}).values(
        "ringcx_call_id", "status", "stream_stats", "recording_path"))
    settled = len(rows) >= {expected} and not any(r["status"] == "live" for r in rows)
    if settled or time.monotonic() > deadline:
        break
    time.sleep(0.5)
print({mark!r} + json.dumps(rows, default=str))
"""

_CREATE_PROFILE = """
import json
from streaming.models import StreamingProfile
from streaming.services import streaming_profile_create
profile = StreamingProfile.objects.filter(
    product_type={product_type!r}, product_id={product_id!r}, sub_account_id={sub_account_id!r}
).first() or streaming_profile_create(
    product_type={product_type!r}, product_id={product_id!r}, sub_account_id={sub_account_id!r},
    main_account_id={main_account_id!r}, rc_account_id={rc_account_id!r},
    streaming_url={streaming_url!r})
print({mark!r} + json.dumps(profile.secret))
"""


# --- The benchmark -------------------------------------------------------------------------------


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


class Bench:
    def __init__(self, settings: BenchSettings) -> None:
        self.settings = settings
        self.processes: list[subprocess.Popen] = []
        self.secret: str | None = None
        self.round_counter = 0
        self.deadline = time.monotonic() + settings.time_budget
        self.server_cores = 1 if settings.server_cpu is not None else (os.cpu_count() or 1)

    # Process bookkeeping: everything started is stopped in ``close``, whatever happened.
    def track(self, process: subprocess.Popen) -> subprocess.Popen:
        self.processes.append(process)
        return process

    def untrack(self, process: subprocess.Popen) -> None:
        if process in self.processes:
            self.processes.remove(process)

    def close(self) -> None:
        for process in reversed(self.processes):
            stop_process(process, timeout=10)
        self.processes.clear()

    # The ingest's environment: its own SQLite and files under the work directory.
    def ingest_env(self) -> dict[str, str]:
        var_dir = self.settings.work_dir / "var"
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "ringadmin.settings",
                "DEBUG": "true",
                "VAR_DIR": str(var_dir),
                "DATABASE_URL": self.settings.database_url
                or f"sqlite:///{var_dir / 'ringadmin.sqlite3'}",
                "REDIS_URL": "",
                "RECORDINGS_DIR": str(var_dir / "recordings"),
                "PYTHONUNBUFFERED": "1",
                # The ingest alone is measured here; transcription has its own benchmark.
                "LIVE_TRANSCRIPTION": "false",
                "TRANSCRIPTION_ENGINE": "none",
            }
        )
        return env

    def manage(self, *args: str, timeout: float = 300) -> str:
        process = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=PROJECT_DIR,
            env=self.ingest_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,
        )
        if process.returncode != 0:
            raise BenchError(
                f"manage.py {args[0]} failed ({process.returncode}):\n"
                f"{process.stderr[-3000:] or process.stdout[-3000:]}"
            )
        return process.stdout

    def django_json(self, code: str, *, timeout: float = 300) -> Any:
        output = self.manage("shell", "-c", code, timeout=timeout)
        for line in output.splitlines():
            if line.startswith(RESULT_MARK):
                return json.loads(line[len(RESULT_MARK) :])
        raise BenchError(f"no result from manage.py shell:\n{output[-2000:]}")

    def setup_ingest(self) -> None:
        self.settings.log("setting up the ingest: migrate, streaming profile")
        (self.settings.work_dir / "var").mkdir(parents=True, exist_ok=True)
        self.manage("migrate", "--noinput")
        self.secret = self.django_json(_CREATE_PROFILE.format(mark=RESULT_MARK, **PROFILE))

    def run(self) -> list[ServerSummary]:
        summaries = []
        try:
            for server in self.settings.servers:
                summaries.append(self.run_server(server))
        finally:
            self.close()
        reference = next((s for s in summaries if s.server == "reference"), None)
        for summary in summaries:
            if reference and reference.max_calls and summary.max_calls is not None:
                summary.ratio_to_reference = round(summary.max_calls / reference.max_calls, 2)
        return summaries

    def run_server(self, server: str) -> ServerSummary:
        settings = self.settings
        summary = ServerSummary(server=server)
        if server == "uvicorn" and not _importable("uvicorn"):
            summary.error = "uvicorn is not installed"
            return summary
        settings.log(f"\n== {server} ==")
        try:
            if server in INGEST_SERVERS:
                self.setup_ingest()  # again per server: cheap, and the schema is current
            best, rounds = search_max_calls(
                lambda n: self.run_step(server, n),
                start=settings.start_calls,
                max_calls=settings.max_calls,
                max_rounds=settings.rounds,
                deadline=self.deadline,
            )
            summary.rounds = rounds
            if best is not None:
                summary.max_calls = best.calls
                summary.calls_per_core = round(best.calls / self.server_cores, 1)
                summary.p99_lag_ms = best.lag_ms.get("p99")
                summary.rss_per_call = best.rss_per_call
            summary.lower_bound = bool(rounds and rounds[-1].client_limited)
            if settings.flood and time.monotonic() < self.deadline:
                flood = self.run_round(server, settings.flood_calls, realtime=False)
                summary.flood_round = flood
                summary.flood_frames_per_second = flood.frames_per_second
                summary.flood_frames_per_cpu_second = flood.frames_per_cpu_second
        except (BenchError, TimeoutError, RuntimeError, OSError) as exc:
            summary.error = str(exc)
            settings.log(f"  {server}: {exc}")
        return summary

    def run_step(self, server: str, calls: int) -> RoundResult:
        """``repeat`` real-time rounds of N calls: the median p99 decides, any loss fails."""
        results = [
            self.run_round(server, calls, realtime=True) for _ in range(self.settings.repeat)
        ]
        if len(results) == 1:
            return results[0]
        return combine_repeats(results)

    def run_round(self, server: str, calls: int, *, realtime: bool) -> RoundResult:
        settings = self.settings
        self.round_counter += 1
        mode = "rt" if realtime else "flood"
        prefix = f"bench{os.getpid()}-{self.round_counter}-{server}-{mode}{calls}"
        round_dir = settings.work_dir / f"round-{self.round_counter:02d}-{server}-{mode}-{calls}"
        round_dir.mkdir(parents=True, exist_ok=True)
        duration = settings.duration if realtime else settings.flood_duration
        ramp = min(duration / 3, calls / 100) if realtime else 0.0
        if server == "reference":
            run: ServerRun = ReferenceRun(self, round_dir=round_dir, flood=not realtime)
        else:
            run = IngestRun(self, kind=server, round_dir=round_dir, flood=not realtime)
        result = RoundResult(server=server, calls=calls, realtime=realtime)
        started = time.monotonic()
        try:
            run.start()
            assert run.process is not None
            result.rss_baseline = rss_bytes(run.process.pid)
            server_cpu_before = cpu_seconds(run.process.pid)
            report_file = round_dir / "simulator.json"
            argv = [
                sys.executable,
                "-m",
                "streaming.simulator",
                "--url",
                run.url,
                "--calls",
                str(calls),
                "--duration",
                str(duration),
                "--ramp",
                f"{ramp:.2f}",
                "--call-id-prefix",
                prefix,
                "--seed",
                str(self.round_counter),
                "--quiet",
                "--report-file",
                str(report_file),
                "--deadline",
                str(ramp + 3 * duration + 120),
            ]
            if self.secret:
                argv += ["--secret", self.secret]
            if not realtime:
                argv.append("--no-realtime")
            sampler = _RssSampler(run.process.pid)
            client_started = time.monotonic()
            sampler.start()
            try:
                simulator = self.track(
                    start_process(
                        argv,
                        env=dict(os.environ),
                        cwd=PROJECT_DIR,
                        log_path=round_dir / "simulator.log",
                        cpu=settings.client_cpu,
                    )
                )
                try:
                    simulator.wait(timeout=ramp + 3 * duration + 180)
                finally:
                    stop_process(simulator)
                    self.untrack(simulator)
            finally:
                sampler.stop()
            client_wall = time.monotonic() - client_started
            server_cpu = cpu_seconds(run.process.pid) - server_cpu_before
            result.server_cpu = round(server_cpu / client_wall, 3)
            result.rss_peak = max(sampler.peak, rss_bytes(run.process.pid))
            if run.process.poll() is not None:
                result.reasons.append(f"the server exited with code {run.process.returncode}")
            if not report_file.exists():
                raise BenchError(f"the simulator wrote no report (see {round_dir})")
            report = json.loads(report_file.read_text())
            accepted = sum(
                1
                for call in report["calls"]
                if call["connections"] and call["connections"][0]["outcome"] == "accepted"
            )
            received, lag = run.collect(prefix=f"{prefix}-", accepted=accepted)
            evaluate_round(
                result=result,
                report=report,
                received=received,
                lag=lag,
                p99_limit_ms=settings.p99_limit_ms,
            )
            if server_cpu > 0:
                result.frames_per_cpu_second = round(result.frames_received / server_cpu, 1)
        finally:
            run.stop()
            result.elapsed = round(time.monotonic() - started, 1)
        settings.log("  " + result.summary())
        return result


class _RssSampler:
    """Peak resident memory of the server while the simulator runs (sampled every 0.25 s)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self.peak = max(self.peak, rss_bytes(self.pid))


def _remove_recording(path: str | None, *, inside: Path) -> None:
    """The round's recordings are not judged here: free the disk, but only under the bench's
    own directory."""
    if not path:
        return
    recording = Path(path).resolve()
    if recording.is_relative_to(inside.resolve()):
        recording.unlink(missing_ok=True)


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


# --- Reporting -----------------------------------------------------------------------------------


def targets(summaries: Iterable[ServerSummary]) -> list[dict[str, Any]]:
    """Each target of the issue, for each of our servers: the figure and whether it is met."""
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


def remove_work_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
