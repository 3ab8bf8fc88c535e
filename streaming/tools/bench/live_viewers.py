"""What browsers watching live calls cost the ingest process: a figure, not a test.

    python -m streaming.tools.bench.live_viewers [--calls 200] [--viewers 50] [--lists 3]
                                                 [--window 20] [--split] [--json]

Runs a fresh daphne (pages, browser sockets and the ingest in one process, as ``make run``
does; the channel layer is Redis when ``REDIS_URL`` is set, else in-process) on its own SQLite
database, or with ``--split`` (needs ``REDIS_URL``) the ingest on its own server
(``--server websockets``, the one for many calls) beside a daphne for the pages and browser
sockets; has the RingCX simulator (another process) stream ``--calls`` calls to the ingest, and
measures the ingest process's CPU (user + system, from /proc) over windows of ``--window`` s:
without viewers, with ``--viewers`` sockets on one call's events and ``--lists`` sockets on the
live calls list, then without viewers again. Live transcription is off: what is measured is
the cost of the viewers, not of speech recognition. The machine's other load shows up in the
figures; the two windows without viewers say how much.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from streaming.tools.bench.ingest_db import RESULT_MARK
from streaming.tools.bench.processes import (
    PROJECT_DIR,
    cpu_seconds,
    free_port,
    start_process,
    stop_process,
    wait_for_port,
)

PW = ["--password-from-env"]
PASSWORD = "Bench-viewer-pw-123456"  # noqa: S105 (a throwaway user of a throwaway database)


@dataclass
class Window:
    name: str
    seconds: float
    cpu_seconds: float
    messages: int = 0  # received by the viewers in this window

    @property
    def cpu_percent(self) -> float:
        return 100.0 * self.cpu_seconds / self.seconds


@dataclass
class Result:
    calls: int
    viewers: int
    lists: int
    layer: str
    topology: str
    live_calls_seen: int = 0
    viewer_errors: list[str] = field(default_factory=list)  # sockets that failed, why
    windows: list[Window] = field(default_factory=list)

    def extra_percent(self) -> float:
        """CPU with viewers minus the mean of the windows without (percent of one core)."""
        quiet = [w.cpu_percent for w in self.windows if w.name.startswith("no viewers")]
        watched = [w.cpu_percent for w in self.windows if w.name.startswith("viewers")]
        return sum(watched) / len(watched) - sum(quiet) / len(quiet)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for window, raw in zip(self.windows, data["windows"], strict=True):
            raw["cpu_percent"] = round(window.cpu_percent, 2)
        data["extra_cpu_percent"] = round(self.extra_percent(), 2)
        return data


def _run(argv: list[str], env: dict[str, str], log: Path) -> str:
    """Run a project command to completion; its output (it must succeed)."""
    process = start_process(argv, env=env, cwd=PROJECT_DIR, log_path=log)
    if process.wait(timeout=600) != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: see {log}")
    return log.read_text()


def _session(base: str) -> str:
    with httpx.Client(base_url=base) as client:
        client.get("/login/")
        response = client.post(
            "/login/",
            data={
                "username": "bench",
                "password": PASSWORD,
                "csrfmiddlewaretoken": client.cookies["csrftoken"],
            },
            headers={"Referer": f"{base}/login/"},
        )
        if response.status_code != 302:
            raise RuntimeError(f"could not sign in: {response.status_code}")
        return client.cookies["sessionid"]


async def _wait_for_calls(ws_base: str, headers: dict[str, str], calls: int, within: float):
    """Watch the live list until ``calls`` calls stream (or no new one for 15 s): their ids,
    in the order they started."""
    seen: set[int] = set()
    deadline = time.monotonic() + within
    last_new = time.monotonic()
    async with connect(f"{ws_base}/ws/calls/live/", additional_headers=headers) as ws:
        while len(seen) < calls and time.monotonic() < deadline:
            if seen and time.monotonic() - last_new > 15:
                break
            before = len(seen)
            try:
                message = json.loads(await asyncio.wait_for(ws.recv(), 5))
            except TimeoutError:
                continue
            if message["type"] == "calls.list":
                seen |= {c["id"] for c in message["calls"]}
            elif message["type"] == "call.started":
                seen.add(message["call"]["id"])
            elif message["type"] == "calls.progress":
                seen |= {c["id"] for c in message["calls"]}
            if len(seen) > before:
                last_new = time.monotonic()
    return sorted(seen)


async def _viewer(url: str, headers: dict[str, str], counter: list[int], stop: asyncio.Event):
    async with connect(url, additional_headers=headers, max_size=2**22) as ws:
        while not stop.is_set():
            try:
                await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            counter[0] += 1


async def _measure(pid: int, name: str, seconds: float, counter: list[int] | None = None) -> Window:
    before, start = cpu_seconds(pid), time.monotonic()
    received = counter[0] if counter else 0
    await asyncio.sleep(seconds)  # the measurement window itself
    elapsed = time.monotonic() - start
    messages = (counter[0] - received) if counter else 0
    return Window(name, round(elapsed, 2), round(cpu_seconds(pid) - before, 3), messages)


async def _windows(
    result: Result, pid: int, base: str, cookie: str, window: float, settle: float
) -> None:
    """Wait for the calls; measure without viewers, with, and without again."""
    ws_base = base.replace("http://", "ws://")
    headers = {"Cookie": f"sessionid={cookie}", "Origin": base}
    ids = await _wait_for_calls(ws_base, headers, result.calls, within=180)
    result.live_calls_seen = len(ids)
    if not ids:
        raise RuntimeError("no call streamed")
    await asyncio.sleep(settle)  # the list socket's departure settles
    result.windows.append(await _measure(pid, "no viewers", window))
    stop, counter = asyncio.Event(), [0]
    sockets = [f"{ws_base}/ws/calls/{ids[-1]}/events/"] * result.viewers + [
        f"{ws_base}/ws/calls/live/"
    ] * result.lists
    tasks = [asyncio.create_task(_viewer(url, headers, counter, stop)) for url in sockets]
    await asyncio.sleep(settle)  # connected, first lists sent
    result.windows.append(await _measure(pid, "viewers", window, counter))
    failed = [t.exception() for t in tasks if t.done() and t.exception() is not None]
    result.viewer_errors = sorted({repr(e)[:200] for e in failed if e is not None})
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(settle)
    result.windows.append(await _measure(pid, "no viewers again", window))


def run(
    *, calls: int, viewers: int, lists: int, window: float, split: bool, settle: float = 3.0
) -> Result:
    work = Path(tempfile.mkdtemp(prefix="live-viewers-"))
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
        "DEBUG": "true",
        "VAR_DIR": str(work),
        "DATABASE_URL": f"sqlite:///{work / 'bench.sqlite3'}",
        "RINGADMIN_ENV_FILE": "/nonexistent",
        "LIVE_TRANSCRIPTION": "false",
        "TRANSCRIPTION_ENGINE": "none",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "PYTHONUNBUFFERED": "1",
        "RINGADMIN_USER_PASSWORD": PASSWORD,
        "INGEST_SHED_LAG_MS": "0",  # measure a loaded machine rather than refuse calls on it
        "REDIS_KEY_PREFIX": f"live-viewers-{os.getpid()}",
    }
    if split and not env.get("REDIS_URL"):
        raise RuntimeError("--split needs REDIS_URL (the processes share the channel layer)")
    env.pop("SECRET_KEY", None)
    python = sys.executable
    _run([python, "manage.py", "migrate", "--noinput"], env, work / "migrate.log")
    out = _run(
        [python, "-m", "streaming.tools.bench.ingest_db", "create-profile"],
        env,
        work / "profile.log",
    )
    secret = json.loads(out.split(RESULT_MARK, 1)[1].splitlines()[0])
    _run(
        [python, "manage.py", "create_user", "--role", "supervisor", "--username", "bench", *PW],
        env,
        work / "user.log",
    )
    port = free_port()
    server = start_process(
        [python, "-m", "streaming.ingest_server", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=PROJECT_DIR,
        log_path=work / "server.log",
    )
    ingest, ingest_port = server, port
    if split:
        ingest_port = free_port()
        ingest = start_process(
            [
                python,
                "-m",
                "streaming.ingest_server",
                "--host",
                "127.0.0.1",
                "--port",
                str(ingest_port),
                "--server",
                "websockets",
            ],
            env=env,
            cwd=PROJECT_DIR,
            log_path=work / "ingest.log",
        )
    simulator = None
    result = Result(
        calls,
        viewers,
        lists,
        "redis" if env.get("REDIS_URL") else "memory",
        "ingest on its own server, pages on daphne" if split else "one daphne",
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=60, process=server)
        wait_for_port("127.0.0.1", ingest_port, timeout=60, process=ingest)
        base = f"http://127.0.0.1:{port}"
        cookie = _session(base)
        ramp = calls / 5  # gentle: the figure is the viewers' cost, not the arrival rate's
        duration = ramp + 60 + 3 * (window + settle) + 30
        simulator = start_process(
            [
                *(
                    python,
                    "-m",
                    "streaming.tools.simulator",
                    "--url",
                    f"ws://127.0.0.1:{ingest_port}/",
                ),
                *("--calls", str(calls), "--duration", str(duration), "--ramp", str(ramp)),
                *("--secret", secret, "--quiet", "--call-id-prefix", "viewers"),
            ],
            env=env,
            cwd=PROJECT_DIR,
            log_path=work / "simulator.log",
        )
        asyncio.run(_windows(result, ingest.pid, base, cookie, window, settle))
    finally:
        if simulator is not None:
            stop_process(simulator)
        if ingest is not server:
            stop_process(ingest)
        stop_process(server)
    return result


def format_result(result: Result) -> str:
    lines = [
        f"{result.live_calls_seen} live calls streaming ({result.topology}, {result.layer} "
        "channel layer); ingest process CPU; "
        f"viewers: {result.viewers} on one call's events + {result.lists} on the live list",
        f"{'window':<18} {'seconds':>8} {'CPU s':>8} {'CPU %':>7} {'messages':>9}",
    ]
    for w in result.windows:
        lines.append(
            f"{w.name:<18} {w.seconds:>8.1f} {w.cpu_seconds:>8.2f} {w.cpu_percent:>6.1f}% "
            f"{w.messages:>9}"
        )
    lines.append(f"extra CPU with viewers: {result.extra_percent():+.1f} % of one core")
    if result.viewer_errors:
        lines.append(f"viewer sockets failed: {'; '.join(result.viewer_errors)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m streaming.tools.bench.live_viewers", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--calls", type=int, default=200, help="live calls streaming")
    parser.add_argument("--viewers", type=int, default=50, help="sockets on one call's events")
    parser.add_argument("--lists", type=int, default=3, help="sockets on the live calls list")
    parser.add_argument("--window", type=float, default=20.0, help="seconds per measurement")
    parser.add_argument(
        "--split", action="store_true", help="the ingest on its own server (needs REDIS_URL)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(
        calls=args.calls,
        viewers=args.viewers,
        lists=args.lists,
        window=args.window,
        split=args.split,
    )
    print(json.dumps(result.as_dict(), indent=2) if args.json else format_result(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
