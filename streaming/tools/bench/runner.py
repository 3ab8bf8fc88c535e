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
(``manage.py migrate``, ``python -m streaming.ingest_server``), as in production, and its
database is read through ``python -m streaming.tools.bench.ingest_db`` in the ingest's
environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from . import ingest_db
from .processes import PROJECT_DIR, cpu_seconds, rss_bytes, start_process, stop_process
from .rounds import (
    BenchError,
    BenchSettings,
    RoundResult,
    ServerSummary,
    combine_repeats,
    evaluate_round,
    search_max_calls,
)
from .servers import IngestRun, ReferenceRun, ServerRun

INGEST_SERVERS = ("daphne", "uvicorn", "websockets")
SERVERS = ("reference", *INGEST_SERVERS)


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
        return self._run([sys.executable, "manage.py", *args], f"manage.py {args[0]}", timeout)

    def ingest_db(self, *args: str, timeout: float = 300) -> Any:
        """One of :mod:`ingest_db`'s operations, run with the ingest's settings: its result."""
        what = f"{ingest_db.__name__} {args[0]}"
        output = self._run([sys.executable, "-m", ingest_db.__name__, *args], what, timeout)
        for line in output.splitlines():
            if line.startswith(ingest_db.RESULT_MARK):
                return json.loads(line[len(ingest_db.RESULT_MARK) :])
        raise BenchError(f"no result from {what}:\n{output[-2000:]}")

    def _run(self, argv: list[str], what: str, timeout: float) -> str:
        process = subprocess.run(
            argv,
            cwd=PROJECT_DIR,
            env=self.ingest_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,
        )
        if process.returncode != 0:
            raise BenchError(
                f"{what} failed ({process.returncode}):\n"
                f"{process.stderr[-3000:] or process.stdout[-3000:]}"
            )
        return process.stdout

    def setup_ingest(self) -> None:
        self.settings.log("setting up the ingest: migrate, streaming profile")
        (self.settings.work_dir / "var").mkdir(parents=True, exist_ok=True)
        self.manage("migrate", "--noinput")
        self.secret = self.ingest_db("create-profile")

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
                "streaming.tools.simulator",
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


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def remove_work_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
