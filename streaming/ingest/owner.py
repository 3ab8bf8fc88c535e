"""Which process owns a live recording, and whether that process still runs."""

from __future__ import annotations

import os
import socket


def _process_start(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def this_process_owner() -> str:
    pid = os.getpid()
    return f"{socket.gethostname()}|{pid}|{_process_start(pid) or '?'}"


def owner_is_alive(owner: str) -> bool | None:
    """True/False for a process on this host; None when it ran elsewhere (unknowable here)."""
    try:
        host, pid_text, started = owner.split("|")
        pid = int(pid_text)
    except ValueError:
        return False
    if host != socket.gethostname():
        return None
    current = _process_start(pid)
    return current is not None and (started == "?" or current == started)
