"""Helpers for tests that run the project's own commands in subprocesses."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

PROJECT_DIR = Path(__file__).resolve().parent.parent
SERVICE_VARIABLES = ("DATABASE_URL", "REDIS_URL")


def project_env(**overrides: str | None) -> dict[str, str]:
    """The environment for a subprocess: this one, minus the test settings, plus overrides."""
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE",)}
    env["PYTHONUNBUFFERED"] = "1"
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def fresh_terminal_env(**variables: str) -> dict[str, str]:
    """The environment of a new terminal: nothing this test process set (no DEBUG, no
    SECRET_KEY, no test settings), plus ``variables``."""
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TMPDIR") if key in os.environ}
    return {**env, "PYTHONUNBUFFERED": "1", **variables}


def manage(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def wait_for_http(url: str, *, timeout: float, expect: int = 200) -> httpx.Response:
    """Poll ``url`` until it answers ``expect`` (a readiness probe, not a sleep)."""
    deadline = time.monotonic() + timeout
    last: Exception | httpx.Response | None = None
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == expect:
                return response
            last = response
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer {expect} within {timeout}s (last: {last!r})")


def media_message(perspective: str, sequence: int, payload: bytes) -> str:
    """A RingCX Media message as the ingest receives it."""
    return json.dumps(
        {
            "event": "Media",
            "perspective": perspective,
            "sequenceId": str(sequence),
            "media": base64.b64encode(payload).decode(),
        }
    )
