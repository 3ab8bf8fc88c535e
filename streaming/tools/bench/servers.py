"""The servers a round runs against: the bare-websockets reference, or the ingest under
daphne, uvicorn or its own websockets server. Each is started, pinned, collected and stopped."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streaming.tools.simulator import LagHistogram

from .processes import PROJECT_DIR, free_port, start_process, stop_process, wait_for_port
from .rounds import BenchError

if TYPE_CHECKING:
    from .runner import Bench

HOST = "127.0.0.1"


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
            "streaming.tools.bench.reference_server",
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
        rows = self.bench.ingest_db(
            "poll-calls",
            f"--prefix={prefix}",
            f"--expected={accepted}",
            f"--timeout={self.bench.settings.finalize_timeout}",
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


def _remove_recording(path: str | None, *, inside: Path) -> None:
    """The round's recordings are not judged here: free the disk, but only under the bench's
    own directory."""
    if not path:
        return
    recording = Path(path).resolve()
    if recording.is_relative_to(inside.resolve()):
        recording.unlink(missing_ok=True)
