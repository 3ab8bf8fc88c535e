"""Start, pin, watch and always stop the benchmark's processes (Linux /proc where available).

Each child gets its own session, so stopping it stops everything it started (daphne's or
uvicorn's workers included) and a Ctrl-C in the terminal reaches only the benchmark, which
then stops its children in order.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[3]  # where manage.py is: the children's cwd
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def available_cpus() -> set[int]:
    if hasattr(os, "sched_getaffinity"):
        return set(os.sched_getaffinity(0))
    return set(range(os.cpu_count() or 1))


def can_pin(cpu: int | None) -> bool:
    """Whether this process may pin a child to ``cpu``; ask before pinning this process."""
    return cpu is not None and hasattr(os, "sched_setaffinity") and cpu in available_cpus()


def pinned_argv(argv: Sequence[str], cpu: int | None) -> list[str]:
    """Prefix ``taskset -c CPU`` (the child and all its threads inherit the pinning)."""
    if cpu is not None and shutil.which("taskset"):
        return ["taskset", "-c", str(cpu), *argv]
    return list(argv)


def start_process(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log_path: Path,
    cpu: int | None = None,
) -> subprocess.Popen:
    """Start ``argv`` in its own session, pinned to ``cpu`` unless None, output to a log.

    The caller checks :func:`can_pin` first (before pinning itself elsewhere).
    """
    command = pinned_argv(argv, cpu)
    preexec = None
    if cpu is not None and command[0] != "taskset" and hasattr(os, "sched_setaffinity"):
        target = {cpu}

        def preexec() -> None:
            os.sched_setaffinity(0, target)

    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            command,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=preexec,  # only when taskset is missing
        )


def stop_process(process: subprocess.Popen, *, timeout: float = 15.0) -> int | None:
    """SIGTERM the child's whole process group, wait, then SIGKILL it. Returns the exit code."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    # Whatever the leader did, nothing of the group may outlive the benchmark.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    try:
        return process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        return None


def wait_for_port(
    host: str, port: int, *, timeout: float, process: subprocess.Popen | None = None
) -> None:
    """Poll until something accepts TCP on ``host:port`` (a readiness probe, not a sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode} while starting")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing accepted {host}:{port} within {timeout}s") from None
            time.sleep(0.1)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _children(pid: int) -> Iterator[int]:
    proc = Path("/proc")
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields start after the last ")".
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            yield int(entry.name)


def process_tree(pid: int) -> list[int]:
    tree, queue = [], [pid]
    while queue:
        current = queue.pop()
        tree.append(current)
        queue.extend(_children(current))
    return tree


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and its descendants (VmRSS), 0 where /proc is missing."""
    total = 0
    for member in process_tree(pid) if Path("/proc").is_dir() else []:
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    break
        except OSError:
            continue
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its descendants so far."""
    total = 0.0
    for member in process_tree(pid) if Path("/proc").is_dir() else []:
        try:
            stat = Path(f"/proc/{member}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total
