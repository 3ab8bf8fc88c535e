"""`make run` from the project: real daphne, Celery worker and beat on a free port."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import signal
import socket
import stat
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from streaming.tools.simulator import SimulationConfig, simulate
from tests.conftest import free_port
from tests.helpers import (
    PROJECT_DIR,
    fresh_terminal_env,
    manage,
    project_env,
    wait_for_http,
)

pytestmark = pytest.mark.integration


VENV_PYTHON = ".venv/bin/python"


def _terminal(command: str | list[str], *, env: dict[str, str], timeout: float = 120):
    """Run a command as a user types it in the project directory."""
    argv = shlex.split(command) if isinstance(command, str) else command
    return subprocess.run(
        argv, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_make_writes_the_checkout_env_once_so_commands_work_from_a_fresh_terminal(
    tmp_path,
) -> None:
    """`make run` writes the checkout's env file (DEBUG on, a generated SECRET_KEY) before it
    starts anything; a new terminal then needs no exported variable. Written once: the key
    signs sessions and the demo's audit trail, so it must not change between runs."""
    env_file = tmp_path / "checkout.env"
    fresh = fresh_terminal_env(RINGADMIN_ENV_FILE=str(env_file), VAR_DIR=str(tmp_path / "var"))
    refused = _terminal(f"{VENV_PYTHON} manage.py ringcx_simulate --help", env=fresh)
    assert refused.returncode != 0
    assert "SECRET_KEY is not set" in refused.stderr
    made = _terminal(["make", "-s", str(env_file)], env={**fresh, "MAKEFLAGS": ""})
    assert made.returncode == 0, made.stdout + made.stderr
    text = env_file.read_text()
    assert "DEBUG=true" in text.splitlines()
    (key,) = [line.split("=", 1)[1] for line in text.splitlines() if line.startswith("SECRET_KEY=")]
    assert len(key) >= 50
    assert env_file.stat().st_mode & 0o077 == 0  # the key is readable by its owner only
    for command in (
        f"{VENV_PYTHON} manage.py ringcx_simulate --help",
        f"{VENV_PYTHON} manage.py check",
        f"{VENV_PYTHON} manage.py calls list --help",
    ):
        result = _terminal(command, env=fresh)
        assert result.returncode == 0, f"{command}: {result.stderr[-2000:]}"
    again = _terminal(["make", "-s", str(env_file)], env={**fresh, "MAKEFLAGS": ""})
    assert again.returncode == 0
    assert env_file.read_text() == text


def _readme_simulator_commands() -> list[str]:
    """The commands of the README's simulator walk-through, continuation lines joined."""
    readme = (PROJECT_DIR / "README.md").read_text()
    section = readme.split("### Trying it without RingCX: the simulator", 1)[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.replace("\\\n", " ").splitlines():
        command = line.split("#", 1)[0].strip()
        if command and command != "make run":
            commands.append(" ".join(command.split()))
    return commands


def _called_ids(simulator_output: str) -> list[str]:
    return re.findall(r"^\s+([\w.-]+): Participant", simulator_output, re.M)


def _wait_completed(call_ids: list[str], *, env: dict[str, str]) -> None:
    deadline = time.monotonic() + 60
    while True:
        listed = manage("calls", "list", "--limit", "50", "--json", env=env)
        assert listed.returncode == 0, listed.stderr
        status = {c["ringcx_call_id"]: c["status"] for c in json.loads(listed.stdout)}
        pending = [i for i in call_ids if status.get(i) != "completed"]
        if not pending:
            return
        assert time.monotonic() < deadline, f"not completed: {pending}"
        time.sleep(0.2)


def _printed_and_readme_commands_work_from_a_fresh_terminal(
    *, printed: str, port: int, env: dict[str, str]
) -> None:
    """The simulator command `make run` prints, and the README's walk-through, typed in a new
    terminal as they are written (the README's port and placeholder secret filled in)."""
    (hint,) = re.findall(r"^\s*(\.venv/bin/python manage\.py ringcx_simulate .*)$", printed, re.M)
    readme = _readme_simulator_commands()
    assert [c.split()[2] for c in readme] == ["streaming_profile", "ringcx_simulate", "calls"]
    added = _terminal(readme[0], env=env)
    assert added.returncode == 0, added.stdout + added.stderr
    secret = re.search(r"^Secret: (\S+)$", added.stdout, re.M).group(1)
    readme_simulation = readme[1].replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    readme_simulation = readme_simulation.replace("<secret>", secret)
    # Both simulations at once: each streams in real time.
    runs = [
        subprocess.Popen(
            shlex.split(command),
            cwd=PROJECT_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for command in (hint, readme_simulation)
    ]
    outputs = [run.communicate(timeout=180)[0] for run in runs]
    for run, output in zip(runs, outputs, strict=True):
        assert run.returncode == 0, output
    called = [_called_ids(output) for output in outputs]
    assert [len(ids) for ids in called] == [2, 3], outputs
    _wait_completed([i for ids in called for i in ids], env=env)
    listed = _terminal(readme[2], env=env)
    assert listed.returncode == 0, listed.stderr
    for call_id in called[0] + called[1]:
        assert call_id in listed.stdout


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
    env_file = tmp_path / "checkout.env"
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
        RINGADMIN_ENV_FILE=str(env_file),
        DEMO_ADMIN_PASSWORD="demo-Password-123",
    )
    # A new terminal: nothing exported but where this test keeps the checkout's env file and
    # var/ (a real checkout has both in the project directory).
    fresh = fresh_terminal_env(RINGADMIN_ENV_FILE=str(env_file), VAR_DIR=str(tmp_path))
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
            shown = manage("calls", "show", "makerun-1", "--json", env=fresh)
            (call,) = json.loads(shown.stdout)
            if call["stream_stats"].get("recording", {}).get("sha256"):
                break
            time.sleep(0.2)
        assert call["status"] == "completed"
        assert len(call["stream_stats"]["recording"]["sha256"]) == 64
        # The first demo call has its recording and, once the worker has run the post-call
        # task, its transcript.
        deadline = time.monotonic() + 120
        while True:
            (demo,) = json.loads(manage("calls", "show", "demo-1", "--json", env=fresh).stdout)
            transcripts = demo["transcripts"]
            if transcripts and transcripts[0]["status"] in ("done", "failed"):
                break
            assert time.monotonic() < deadline, demo
            time.sleep(0.2)
        assert Path(demo["recording_path"]).is_file()
        assert demo["stream_stats"]["recording"]["seconds"] == 15.4
        assert transcripts[0]["status"] == "done", transcripts
        assert transcripts[0]["engine"] == "whisper"
        assert transcripts[0]["segments"] >= 2  # the agent's turn and the caller's
        if not live_port_taken:
            _printed_and_readme_commands_work_from_a_fresh_terminal(
                printed="".join(output), port=port, env=fresh
            )
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
