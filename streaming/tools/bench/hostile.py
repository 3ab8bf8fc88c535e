"""Hostile frames against the ingest: can a handful of them hurt the process?

Every attack runs against a freshly started server (the ingest's own server and daphne, both
through ``python -m streaming.ingest_server``), so one attack's damage never colours the next.
One call's sockets send the attack's frames while a thread polls ``/healthz`` and another
samples the server's resident memory; then the server is asked to stop with SIGTERM. Reported
per attack and server: the worst RSS growth over the server's idle size, the worst ``/healthz``
latency and the polls it left unanswered, the size of the recording written, and whether
SIGTERM still stopped the process.

A server that enumerates an attacker's numbers can eat gigabytes in seconds: each runs under
an address-space limit and a file-size limit (``prlimit``), and each attack under a deadline,
so the machine running the probe survives.

Nothing here imports Django: the servers are driven as in production, over loopback.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from streaming.audio.pipeline import PipelineConfig
from streaming.audio.reorder import MAX_JUMP
from streaming.tools.bench.ingest_db import PROFILE
from streaming.tools.bench.processes import (
    PROJECT_DIR,
    free_port,
    rss_bytes,
    start_process,
    wait_for_port,
)
from streaming.tools.bench.rounds import BenchSettings
from streaming.tools.bench.runner import Bench
from streaming.tools.bench.servers import HOST

SERVERS = ("websockets", "daphne")
PARTICIPANT, CONFERENCE = "Participant", "Conference"
HUGE = 10**20  # far beyond any real call, and beyond 64 bits (sent as a string)
WINDOW = PipelineConfig().window_frames  # the default reorder window in frames (1 s)
CAP = 2**63 - 1  # the largest sequenceId the protocol accepts
OVERSIZED = 47_000  # payload bytes: with base64 and the envelope just under 64 KiB


@dataclass(frozen=True)
class Frame:
    perspective: str
    sequence: int
    payload_bytes: int


@dataclass(frozen=True)
class Attack:
    name: str
    summary: str
    # One call's sockets, opened in turn; every socket but the last is dropped without a Stop
    # (a reconnect), the last ends with a Stop per perspective.
    sockets: tuple[tuple[Frame, ...], ...]


def _run(perspective: str, first: int, count: int, size: int = 160) -> list[Frame]:
    return [Frame(perspective, first + i, size) for i in range(count)]


def attacks() -> dict[str, Attack]:
    """The attacks, each at a limit of the pipeline or far past it."""
    p = PARTICIPANT
    at_limits = [
        *_run(p, WINDOW, 10),  # the first number the buffer may fill from 1 (the window)
        *_run(p, WINDOW + 9 + MAX_JUMP - 1, 5),  # a jump just under the largest gap filled
        *_run(p, WINDOW + 9 + MAX_JUMP - 1 + 4 + MAX_JUMP + 1, 5),  # just over it
        *_run(p, CAP - 4, 5),  # up to the largest sequenceId accepted
        *_run(p, CAP + 1, 5),  # just past it
    ]
    flood, sequence = [Frame(p, 1, 160)], 1
    for _ in range(2000):
        sequence += MAX_JUMP - 1
        flood.append(Frame(p, sequence, 1))
    found = [
        Attack(
            "huge-first",
            "first sequenceId 10^20, then 1, 2, 3 …",
            ((Frame(p, HUGE, 160), *_run(p, 1, 50)),),
        ),
        Attack(
            "reconnect-huge",
            "50 frames, the socket drops; the reconnect's first frame is 10^20, then 51 …",
            (tuple(_run(p, 1, 50)), (Frame(p, HUGE, 160), *_run(p, 51, 50))),
        ),
        Attack(
            "oversized-then-gaps",
            f"a first frame of {OVERSIZED:,} bytes, then a gap just under the largest filled",
            ((Frame(p, 1, OVERSIZED), *_run(p, MAX_JUMP, 50)),),
        ),
        Attack(
            "jumps-at-limits",
            "first frame at the window, jumps just under and over the largest gap, numbers "
            "just under and over 2^63",
            (tuple(at_limits),),
        ),
        Attack(
            "flood-tiny-jumps",
            f"{len(flood) - 1} one-byte frames, each {MAX_JUMP - 1} numbers after the last",
            (tuple(flood),),
        ),
    ]
    return {attack.name: attack for attack in found}


@dataclass
class HostileSettings:
    servers: list[str]
    attacks: list[str]
    work_dir: Path
    settle: float = 3.0  # seconds to watch after the last frame (the reorder window is 1 s)
    attack_timeout: float = 30.0  # sending stops here, whatever the server does
    term_timeout: float = 10.0  # SIGTERM, then this long, then SIGKILL
    memory_limit: int = 2_000_000_000  # address space per server (bytes); 0 = none
    file_limit: int = 2_000_000_000  # largest file a server may write (bytes); 0 = none
    health_timeout: float = 2.0
    log: Callable[[str], None] = print


@dataclass
class AttackResult:
    server: str
    attack: str
    frames_sent: int = 0
    bytes_sent: int = 0  # on the wire, JSON text
    rss_baseline: int = 0
    rss_peak: int = 0
    health_polls: int = 0
    health_unanswered: int = 0
    health_worst_ms: float | None = None
    recording_bytes: int = 0  # the recordings' apparent size (what a player reads)
    stopped_by: str = ""  # SIGTERM, SIGKILL (SIGTERM ignored), or "exited" (before asked)
    exit_code: int | None = None
    close_codes: list[int] = field(default_factory=list)  # the server closed a socket
    notes: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def rss_growth(self) -> int:
        return max(0, self.rss_peak - self.rss_baseline)


# --- Watching the server ---------------------------------------------------------------------


class _Watch:
    """Polls ``/healthz`` and samples the server's RSS in threads, so a busy client loop never
    delays the measurement."""

    def __init__(self, pid: int, port: int, *, timeout: float) -> None:
        self.pid, self.port, self.timeout = pid, port, timeout
        self.rss_peak = 0
        self.polls = self.unanswered = 0
        self.worst: float | None = None
        self._stop = threading.Event()
        self._polling = threading.Event()
        self._polling.set()
        self._in_flight = threading.Lock()
        self._threads = [
            threading.Thread(target=self._sample, daemon=True),
            threading.Thread(target=self._poll, daemon=True),
        ]

    def __enter__(self) -> _Watch:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 5)

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.rss_peak = max(self.rss_peak, rss_bytes(self.pid))

    def stop_polling(self) -> None:
        """The server is about to be stopped: let the poll under way finish (it counts), then
        watch only its memory."""
        self._polling.clear()
        with self._in_flight:
            pass

    def _poll(self) -> None:
        while not self._stop.wait(0.1):
            with self._in_flight:
                if not self._polling.is_set():
                    return
                latency = health_latency(self.port, timeout=self.timeout)
            self.polls += 1
            if latency is None:
                self.unanswered += 1
                latency = self.timeout
            self.worst = latency if self.worst is None else max(self.worst, latency)


def health_latency(port: int, *, timeout: float) -> float | None:
    """Seconds until ``GET /healthz`` answered (any status), or None: no answer in time."""
    started = time.monotonic()
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("GET", "/healthz")
        connection.getresponse().read()
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()
    return time.monotonic() - started


# --- Sending ---------------------------------------------------------------------------------


def media_text(frame: Frame) -> str:
    payload = base64.b64encode(bytes([0x7F]) * frame.payload_bytes).decode("ascii")
    # sequenceId as a string: JSON numbers past 64 bits do not reach the ingest as integers
    return json.dumps(
        {
            "event": "Media",
            "perspective": frame.perspective,
            "sequenceId": str(frame.sequence),
            "media": payload,
        }
    )


class _Client:
    def __init__(self, port: int, secret: str | None, call_id: str, result: AttackResult):
        self.port, self.secret, self.call_id, self.result = port, secret, call_id, result

    async def run(self, attack: Attack) -> None:
        for index, frames in enumerate(attack.sockets):
            last = index == len(attack.sockets) - 1
            await self._socket(frames, last=last)

    async def _socket(self, frames: tuple[Frame, ...], *, last: bool) -> None:
        params = {
            "callId": self.call_id,
            "sessionId": "1",
            "productType": "Queue",
            "productId": str(PROFILE["product_id"]),
            "subaccountId": PROFILE["sub_account_id"],
            "accountId": PROFILE["main_account_id"],
            "rcAccountId": PROFILE["rc_account_id"],
        }
        headers = {"Authorization": f"Bearer {self.secret}"} if self.secret else {}
        url = f"ws://{HOST}:{self.port}/?{urlencode(params)}"
        try:
            ws = await connect(
                url,
                additional_headers=headers,
                open_timeout=10,
                close_timeout=5,
                ping_interval=None,
                compression=None,
                max_size=None,
            )
        except (InvalidHandshake, OSError, TimeoutError) as exc:
            self.result.notes.append(f"handshake failed: {type(exc).__name__}: {exc}")
            return
        reader = asyncio.create_task(self._read(ws))
        try:
            start = {
                "event": "Start",
                "metadata": {
                    "callId": self.call_id,
                    "sessionId": "1",
                    "contentType": "audio/x-mulaw",
                    "sampleRateHertz": 8000,
                    "productType": "Queue",
                    "productId": PROFILE["product_id"],
                },
            }
            await ws.send(json.dumps(start))
            for frame in frames:
                text = media_text(frame)
                await ws.send(text)
                self.result.frames_sent += 1
                self.result.bytes_sent += len(text)
                await asyncio.sleep(0)  # let the reader see a close
            if last:
                for perspective in sorted({f.perspective for f in frames}):
                    await ws.send(json.dumps({"event": "Stop", "perspective": perspective}))
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else 1006
            self.result.close_codes.append(code)
            self.result.notes.append(f"the server closed a socket mid-attack ({code})")
        finally:
            if not last:
                ws.transport.close()  # a dropped socket: no close frame, the call waits for us
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    @staticmethod
    async def _read(ws: ClientConnection) -> None:
        """Read what the server says, so its close frame is answered."""
        with contextlib.suppress(ConnectionClosed):
            async for _ in ws:
                pass


# --- One attack against one server -----------------------------------------------------------


class HostileProbe:
    def __init__(self, settings: HostileSettings) -> None:
        self.settings = settings
        self.bench = Bench(
            BenchSettings(
                servers=list(settings.servers), work_dir=settings.work_dir, log=settings.log
            )
        )
        self.counter = 0

    def run(self) -> list[AttackResult]:
        chosen = attacks()
        self.bench.setup_ingest()
        results = []
        try:
            for name in self.settings.attacks:
                for server in self.settings.servers:
                    result = self.run_one(server, chosen[name])
                    self.settings.log("  " + summary_line(result))
                    results.append(result)
        finally:
            self.bench.close()
        return results

    def argv(self, server: str, port: int) -> list[str]:
        limits = []
        if self.settings.memory_limit:
            limits.append(f"--as={self.settings.memory_limit}")
        if self.settings.file_limit:
            limits.append(f"--fsize={self.settings.file_limit}")
        prefix = ["prlimit", *limits, "--"] if limits and shutil.which("prlimit") else []
        return [
            *prefix,
            sys.executable,
            "-m",
            "streaming.ingest_server",
            "--host",
            HOST,
            "--port",
            str(port),
            "--server",
            server,
            "--no-recover",
        ]

    def run_one(self, server: str, attack: Attack) -> AttackResult:
        settings = self.settings
        self.counter += 1
        run_dir = settings.work_dir / f"{self.counter:02d}-{attack.name}-{server}"
        recordings = run_dir / "recordings"
        recordings.mkdir(parents=True, exist_ok=True)
        env = self.bench.ingest_env()
        env["RECORDINGS_DIR"] = str(recordings)
        port = free_port(HOST)
        result = AttackResult(server=server, attack=attack.name)
        started = time.monotonic()
        process = self.bench.track(
            start_process(
                self.argv(server, port), env=env, cwd=PROJECT_DIR, log_path=run_dir / "server.log"
            )
        )
        try:
            wait_for_port(HOST, port, timeout=60, process=process)
            health_latency(port, timeout=10)  # the first answer loads what serving needs
            result.rss_baseline = rss_bytes(process.pid)
            call_id = f"hostile{os.getpid()}-{self.counter}-{attack.name}"
            client = _Client(port, self.bench.secret, call_id, result)
            with _Watch(process.pid, port, timeout=settings.health_timeout) as watch:
                try:
                    asyncio.run(asyncio.wait_for(client.run(attack), settings.attack_timeout))
                except TimeoutError:
                    result.notes.append(
                        f"sending stalled: stopped at {settings.attack_timeout:g} s"
                    )
                settle_until = time.monotonic() + settings.settle
                while time.monotonic() < settle_until and process.poll() is None:
                    time.sleep(0.05)
                watch.stop_polling()
                # memory is still sampled while the server is asked to stop
                result.stopped_by, result.exit_code = self._stop(process)
            result.rss_peak = max(watch.rss_peak, result.rss_baseline)
            result.health_polls, result.health_unanswered = watch.polls, watch.unanswered
            result.health_worst_ms = None if watch.worst is None else round(watch.worst * 1000, 1)
        finally:
            if not result.stopped_by:
                result.stopped_by, result.exit_code = self._stop(process)
            self.bench.untrack(process)
            result.recording_bytes = sum(p.stat().st_size for p in recordings.rglob("*.wav"))
            result.elapsed = round(time.monotonic() - started, 1)
            shutil.rmtree(recordings, ignore_errors=True)  # only the size matters here
        return result

    def _stop(self, process: subprocess.Popen) -> tuple[str, int | None]:
        """SIGTERM, wait, SIGKILL: which one stopped it says whether the loop still ran."""
        if process.poll() is not None:
            return "exited", process.returncode
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, 15)
        try:
            return "SIGTERM", process.wait(timeout=self.settings.term_timeout)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, 9)
        try:
            code = process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        return "SIGKILL (SIGTERM ignored)", code


# --- Reporting -------------------------------------------------------------------------------


def _mb(value: int) -> str:
    """Bytes for a reader: KB below a megabyte."""
    if value < 2**20:
        return f"{value / 2**10:,.1f} KB"
    return f"{value / 2**20:,.1f} MB"


def _health(result: AttackResult) -> str:
    if result.health_worst_ms is None:
        return "-"
    if result.health_unanswered:
        return f"no answer in {result.health_worst_ms / 1000:g} s"
    return f"{result.health_worst_ms:,.0f} ms"


def summary_line(result: AttackResult) -> str:
    health = _health(result)
    return (
        f"{result.attack} on {result.server}: RSS +{_mb(result.rss_growth)}, worst /healthz "
        f"{health} ({result.health_unanswered} of {result.health_polls} unanswered), recording "
        f"{_mb(result.recording_bytes)} from {result.bytes_sent:,} bytes sent, stopped by "
        f"{result.stopped_by}" + (f"; {'; '.join(result.notes)}" if result.notes else "")
    )


def format_table(results: list[AttackResult], settings: HostileSettings) -> str:
    header = (
        f"{'attack':<20} {'server':<10} {'RSS growth':>11} {'/healthz worst':>18} "
        f"{'unanswered':>10} {'sent':>9} {'recording':>11}  stopped by"
    )
    limits = ", ".join(
        f"{name} {_mb(value)}"
        for name, value in (
            ("address space", settings.memory_limit),
            ("file size", settings.file_limit),
        )
        if value
    )
    lines = [
        f"Hostile frames against the ingest (a fresh server per attack; limits: "
        f"{limits or 'none'}; /healthz polled every 0.1 s, {settings.health_timeout:g} s "
        "timeout)",
        header,
        "-" * len(header),
    ]
    for r in results:
        health = _health(r)
        lines.append(
            f"{r.attack:<20} {r.server:<10} {_mb(r.rss_growth):>11} {health:>18} "
            f"{f'{r.health_unanswered}/{r.health_polls}':>10} {_mb(r.bytes_sent):>9} "
            f"{_mb(r.recording_bytes):>11}  {r.stopped_by}"
            + (f" (exit {r.exit_code})" if r.exit_code not in (0, None) else "")
            + (f"; {'; '.join(r.notes)}" if r.notes else "")
        )
    lines.append("")
    for attack in attacks().values():
        if attack.name in {r.attack for r in results}:
            lines.append(f"  {attack.name}: {attack.summary}")
    return "\n".join(lines)


def hostile_report(results: list[AttackResult]) -> dict[str, Any]:
    return {"results": [asdict(r) | {"rss_growth": r.rss_growth} for r in results]}
