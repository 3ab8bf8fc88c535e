"""A real ingest server (``python -m streaming.ingest_server``: daphne, uvicorn or websockets)
on loopback for tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from tests.conftest import free_port
from tests.helpers import PROJECT_DIR, manage, project_env, wait_for_http


@dataclass
class IngestServer:
    var_dir: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    secret: str = ""
    process: subprocess.Popen | None = None
    log: Path | None = None
    server: str = "daphne"
    _postgres_db: str | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def setup(self) -> IngestServer:
        """Fresh database (SQLite file, or a throwaway PostgreSQL database), migrated, with a
        streaming profile for Queue 1234."""
        database_url = os.environ.get("DATABASE_URL", "")
        if database_url.startswith("postgres"):
            base = urllib.parse.urlsplit(database_url)
            self._postgres_db = f"ringadmin_ingest_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(base._replace(path="/postgres").geturl(), autocommit=True) as db:
                db.execute(f'CREATE DATABASE "{self._postgres_db}"')
            self.env["DATABASE_URL"] = base._replace(path=f"/{self._postgres_db}").geturl()
        else:
            self.env["DATABASE_URL"] = f"sqlite:///{self.var_dir / 'ingest.sqlite3'}"
        result = manage("migrate", "--noinput", env=self.env, timeout=300)
        assert result.returncode == 0, result.stderr
        created = manage(
            "streaming_profile",
            "add",
            "--product-type",
            "QUEUE",
            "--product-id",
            "1234",
            "--sub-account",
            "99990001",
            "--main-account",
            "99990000",
            "--rc-account",
            "123456789",
            "--url",
            "wss://ingest.example.com",
            "--json",
            env=self.env,
        )
        assert created.returncode == 0, created.stderr
        self.secret = json.loads(created.stdout)["secret"]
        return self

    def start(self) -> IngestServer:
        self.log = self.var_dir / f"server-{self.port}.log"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "streaming.ingest_server",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--server",
                    self.server,
                ],
                cwd=PROJECT_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for_http(f"http://127.0.0.1:{self.port}/healthz", timeout=60)
        return self

    def kill(self) -> None:
        """``kill -9``: no cleanup of any kind."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=20)

    def drop_database(self) -> None:
        if self._postgres_db:
            base = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
            with psycopg.connect(base._replace(path="/postgres").geturl(), autocommit=True) as db:
                db.execute(f'DROP DATABASE IF EXISTS "{self._postgres_db}" WITH (FORCE)')

    def calls(self, call_id: str) -> list[dict]:
        shown = manage("calls", "show", call_id, "--json", env=self.env)
        assert shown.returncode == 0, shown.stderr
        return json.loads(shown.stdout)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log else ""


def ingest_server_env(var_dir: Path, **extra: str) -> dict[str, str]:
    return project_env(
        DEBUG="true",
        VAR_DIR=str(var_dir),
        SECRET_KEY=None,
        RINGADMIN_ENV_FILE="/nonexistent",
        INGEST_RECONNECT_GRACE_SECONDS="1",
        CELERY_TASK_ALWAYS_EAGER="true",
        # Shedding on event-loop lag would answer 503 on a busy test machine; it is tested on
        # its own (tests/streaming/test_ingest_parts.py), and a test that wants it passes it.
        **{
            "LIVE_TRANSCRIPTION": "false",
            "TRANSCRIPTION_ENGINE": "none",
            "INGEST_SHED_LAG_MS": "0",
            **extra,
        },
    )
