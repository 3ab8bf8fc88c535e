"""`make run` from the project: real daphne, Celery worker and beat on a free port."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import stat
import subprocess
import threading
import time

import httpx
import pytest

from streaming.simulator import SimulationConfig, simulate
from tests.conftest import free_port
from tests.helpers import PROJECT_DIR, manage, project_env, wait_for_http

pytestmark = pytest.mark.integration


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("live_port_taken", [False, True], ids=["all-up", "live-port-taken"])
def test_make_run_serves_health_and_login_and_stops_cleanly(tmp_path, live_port_taken) -> None:
    """Also: a live transcription worker that cannot start (its port taken) does not take the
    application down with it; by default the worker listens on a Unix socket of this instance
    that only its user may open."""
    port, live_port = free_port(), free_port()
    squatter = socket.socket()
    if live_port_taken:
        squatter.bind(("127.0.0.1", live_port))
        squatter.listen()
    env = project_env(
        LIVE_TRANSCRIPTION_WORKERS=f"127.0.0.1:{live_port}" if live_port_taken else None,
        LIVE_TRANSCRIPTION_KEY=None,
        PORT=str(port),
        VAR_DIR=str(tmp_path),
        DATABASE_URL=None,
        REDIS_URL=None,
        DEBUG=None,
        SECRET_KEY=None,
        RINGADMIN_ENV_FILE="/nonexistent",
        DEMO_ADMIN_PASSWORD="demo-Password-123",
    )
    make = subprocess.Popen(
        ["make", "run"],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(make.stdout), daemon=True)
    reader.start()
    try:
        try:
            health = wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=240)
        except TimeoutError as exc:
            raise AssertionError(
                f"make run never became healthy:\n{''.join(output)[-4000:]}"
            ) from exc
        body = health.json()
        live_socket = tmp_path / "run" / f"live-transcription-{port}.sock"
        if not live_port_taken:
            deadline = time.monotonic() + 120  # the worker loads its model, then listens
            while not live_socket.exists():
                assert time.monotonic() < deadline, "the live worker's socket never appeared"
                time.sleep(0.2)  # polling for the file the worker creates
            assert stat.S_IMODE(live_socket.stat().st_mode) == 0o600
        assert body["dependencies"]["database"]["backend"] == "sqlite"
        assert body["dependencies"]["channel_layer"]["backend"] == "InMemoryChannelLayer"
        assert body["dependencies"]["broker"]["backend"] == "filesystem"
        login = httpx.get(f"http://127.0.0.1:{port}/login/", timeout=5)
        assert login.status_code == 200
        assert "Sign in" in login.text
        css = httpx.get(f"http://127.0.0.1:{port}/static/ringadmin/app.css", timeout=5)
        assert css.status_code == 200
        # The demo admin can sign in with the password given in the environment.
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as browser:
            token = browser.get("/login/").cookies["csrftoken"]
            signed_in = browser.post(
                "/login/",
                data={
                    "username": "admin",
                    "password": "demo-Password-123",
                    "csrfmiddlewaretoken": token,
                },
                headers={"Referer": f"http://127.0.0.1:{port}/login/"},
            )
            assert signed_in.status_code == 302
            assert browser.get("/", follow_redirects=True).url.path == "/admin/"
        # A simulated RingCX call into the demo profile is recorded, and the Celery worker
        # (embedded broker) runs its post-call task.
        report = asyncio.run(
            simulate(
                SimulationConfig(
                    url=f"ws://127.0.0.1:{port}/",
                    calls=1,
                    duration=1.0,
                    secret="demo-Password-123",
                    call_id_prefix="makerun",
                    seed=1,
                )
            )
        )
        assert report.ok, report.to_dict()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            shown = manage("calls", "show", "makerun-1", "--json", env={**env, "DEBUG": "true"})
            (call,) = json.loads(shown.stdout)
            if call["stream_stats"].get("recording", {}).get("sha256"):
                break
            time.sleep(0.2)
        assert call["status"] == "completed"
        assert len(call["stream_stats"]["recording"]["sha256"]) == 64
    finally:
        os.killpg(make.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        make.wait(timeout=60)
        reader.join(timeout=5)
        squatter.close()
    text = "".join(output)
    assert ("live transcription is off until a restart" in text) == live_port_taken, text
    pids = [int(p) for p in re.findall(r"started [\w-]+ \(pid (\d+)\)", text)]
    # web, Celery worker and beat, and the live transcription worker
    assert len(pids) == 4, text
    assert "all processes stopped" in text
    assert not [pid for pid in pids if _pid_alive(pid)]
    assert (tmp_path / "ringadmin.sqlite3").exists()
    assert not live_socket.exists()  # removed when the worker stopped
