"""Start the whole application: the web/ingest server, a Celery worker and Celery beat.

One command for ``make run``: it supervises the three processes, prints where to go, and on
Ctrl-C (or SIGTERM) stops every one of them, killing any that will not stop in time. What the
children must know beyond the settings (the demo fake's address) reaches them through their
environment: this process never changes its own settings or environment.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from streaming.transcription import live_protocol as wire
from streaming.transcription.engines.base import TranscriptionError
from streaming.transcription.engines.whisper import WhisperConfig, resolve_model

if TYPE_CHECKING:
    from ringadmin.tools.vendor_fake import FakeRingCentral

STOP_GRACE_SECONDS = 15


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    # An optional child (a live transcription worker) may stop without stopping the application:
    # calls are still recorded, and transcribed after they end.
    optional: bool = False
    gone: bool = False  # an optional child that stopped (reported once)
    env: dict[str, str] = field(default_factory=dict)  # on top of this process's environment


class Command(BaseCommand):
    help = "Run daphne, a Celery worker and Celery beat together; Ctrl-C stops them all."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-worker", action="store_true", help="do not start Celery")
        parser.add_argument("--worker-concurrency", type=int, default=2)
        parser.add_argument(
            "--demo-fake",
            choices=["auto", "on", "off"],
            default=os.environ.get("DEMO_FAKE", "auto"),
            help="run a local FAKE RingCentral + RingCX beside the application (auto: when "
            "DEBUG is on and no RingCentral credentials are set)",
        )

    def _live_transcription(self, python: str, port: int) -> tuple[list[Child], dict[str, str]]:
        """This instance's live transcription: the workers to start here, and the settings
        that point its ingest at them.

        Each instance gets its own endpoint (by default a Unix socket under ``VAR_DIR``, named
        after the port, that only this user may open) and its own key (``LIVE_TRANSCRIPTION_KEY``,
        else a random one made now), so two instances on one host never reach each other's
        workers: audio sent to the wrong one would be refused before it left.
        """
        if not settings.LIVE_TRANSCRIPTION:
            return [], {}
        endpoints = []
        for item in settings.LIVE_TRANSCRIPTION_WORKERS or [default_live_endpoint(port)]:
            try:
                endpoints.append(wire.endpoint_parse(item))
            except ValueError as exc:
                self.stderr.write(f"LIVE_TRANSCRIPTION_WORKERS: {exc}; that worker is not used")
        if not endpoints:
            return [], {"LIVE_TRANSCRIPTION": "false"}
        key = settings.LIVE_TRANSCRIPTION_KEY or secrets.token_urlsafe(32)
        try:
            wire.key_check(key)
        except ValueError as exc:
            self.stderr.write(f"live transcription is off: {exc}")
            return [], {"LIVE_TRANSCRIPTION": "false"}
        env = {
            "LIVE_TRANSCRIPTION_WORKERS": ",".join(str(e) for e in endpoints),
            "LIVE_TRANSCRIPTION_KEY": key,
        }
        local = [e for e in endpoints if e.local]
        if not local:
            return [], env
        try:
            resolve_model(
                WhisperConfig(
                    model=settings.WHISPER_MODEL, allow_download=settings.WHISPER_ALLOW_DOWNLOAD
                )
            )
        except TranscriptionError as exc:
            self.stderr.write(f"live transcription is off: {exc}")
            return [], {"LIVE_TRANSCRIPTION": "false"} if len(local) == len(endpoints) else env
        children = [
            Child(
                f"live-transcriber-{index}",
                [
                    python,
                    "-m",
                    "streaming.transcription.live_worker",
                    "--listen",
                    str(endpoint),
                    "--model",
                    settings.WHISPER_MODEL,
                    "--model-sha256",
                    settings.WHISPER_MODEL_SHA256,
                    "--beam-size",
                    str(settings.LIVE_TRANSCRIPTION_BEAM_SIZE),
                    "--partials" if settings.LIVE_TRANSCRIPTION_PARTIALS else "--no-partials",
                    "--log-level",
                    settings.LOG_LEVEL,
                    "--log-format",
                    settings.LOG_FORMAT,
                ],
                optional=True,
                env={"LIVE_TRANSCRIPTION_KEY": key},
            )
            for index, endpoint in enumerate(local, start=1)
        ]
        return children, env

    def handle(self, *args, **options) -> None:
        python = sys.executable
        fake, demo_env = self._start_demo_fake(options)
        separate_ingest = settings.INGEST_SERVER == "websockets"
        web_server = ["--server", "daphne", "--no-recover"] if separate_ingest else []
        live_workers, live_env = self._live_transcription(python, options["port"])
        children = [
            Child(
                "web",
                [
                    python,
                    "-m",
                    "streaming.ingest_server",
                    "--host",
                    options["host"],
                    "--port",
                    str(options["port"]),
                    "--proxy-headers",
                    *web_server,
                ],
                env=live_env,
            ),
        ]
        ingest_port = options["port"]
        if separate_ingest:
            # The fastest ingest serves RingCX's sockets alone, on a port of its own.
            ingest_port = settings.INGEST_PORT
            children.append(
                Child(
                    "ingest",
                    [
                        python,
                        "-m",
                        "streaming.ingest_server",
                        "--host",
                        options["host"],
                        "--port",
                        str(ingest_port),
                        "--server",
                        "websockets",
                    ],
                    env=live_env,
                )
            )
        children += live_workers
        if not options["no_worker"]:
            children += [
                Child(
                    "worker",
                    [
                        python,
                        "-m",
                        "celery",
                        "-A",
                        "ringadmin",
                        "worker",
                        "--loglevel",
                        settings.LOG_LEVEL,
                        "--concurrency",
                        str(options["worker_concurrency"]),
                        "--without-mingle",
                        "--without-gossip",
                        "--hostname",
                        f"worker-{os.getpid()}@%h",
                    ],
                ),
                Child(
                    "beat",
                    [
                        python,
                        "-m",
                        "celery",
                        "-A",
                        "ringadmin",
                        "beat",
                        "--loglevel",
                        settings.LOG_LEVEL,
                        "--schedule",
                        settings.CELERY_BEAT_SCHEDULE_FILENAME,
                    ],
                ),
            ]
        stopping = False

        def request_stop(signum, frame) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        for child in children:
            # Own session: a terminal's Ctrl-C reaches only us, and we stop children in order.
            child.process = subprocess.Popen(
                child.argv, start_new_session=True, env={**os.environ, **demo_env, **child.env}
            )
            self.stdout.write(f"started {child.name} (pid {child.process.pid})")
        url = f"http://{options['host']}:{options['port']}/"
        self.stdout.write(
            self.style.SUCCESS(
                f"\nringadmin is running at {url}  (health: {url}healthz, admin: {url}admin/)\n"
                f"RingCX ingest socket: ws://{options['host']}:{ingest_port}/  "
                "(behind TLS in production: wss://your-host)\nPress Ctrl-C to stop.\n"
            )
        )
        exit_code = 0
        while not stopping:
            for child in children:
                assert child.process is not None  # all started above
                code = child.process.poll()
                if code is None or child.gone:
                    continue
                if child.optional:
                    child.gone = True
                    self.stderr.write(
                        f"{child.name} exited with code {code}: live transcription is off until "
                        "a restart (is its address in use?); calls are still recorded and "
                        "transcribed after they end"
                    )
                    continue
                self.stderr.write(f"{child.name} exited with code {code}; stopping the rest")
                exit_code = code or 1
                stopping = True
                break
            else:
                time.sleep(0.2)
        self._stop_all(children)
        if fake is not None:
            fake.stop()
        if exit_code:
            sys.exit(exit_code)

    def _start_demo_fake(self, options: dict) -> tuple[FakeRingCentral | None, dict[str, str]]:
        """Demo mode: a local fake of RingCentral + RingCX, so profiles sync and the whole
        product can be tried with no account. Returns it and the environment that points every
        child process at it."""
        wanted = options["demo_fake"]
        if wanted == "off" or (
            wanted == "auto" and (not settings.DEBUG or settings.RINGCENTRAL_CLIENT_ID)
        ):
            return None, {}
        # The fake is a tool, not runtime code: imported only in demo mode, when it runs.
        from ringadmin.tools.vendor_fake import FakeRingCentral

        port = int(os.environ.get("FAKE_RINGCENTRAL_PORT", options["port"] + 1))
        fake = FakeRingCentral(host="127.0.0.1", port=port).start()
        variables = {**fake.env(), "RINGADMIN_DEMO_FAKE": "true"}
        self.stdout.write(
            self.style.WARNING(
                f"DEMO MODE: a local FAKE RingCentral + RingCX runs at {fake.url} (not a real "
                "account). Set RINGCENTRAL_CLIENT_ID/_SECRET/_JWT to use your own."
            )
        )
        # In a child with the fake's environment, as the worker will sync later changes.
        synced = subprocess.run(
            [sys.executable, "-m", "django", "streaming_profile", "sync", "--all"],
            env={**os.environ, **variables},
            stdout=subprocess.PIPE,  # its errors and logs go to the terminal as they come
            text=True,
            check=False,
        )
        self.stdout.write(synced.stdout, ending="")
        if synced.returncode:  # the demo still runs; the admin shows the profile's state
            self.stderr.write(f"demo profiles not synced to the fake (exit {synced.returncode})")
        return fake, variables

    def _stop_all(self, children: list[Child]) -> None:
        self.stdout.write("stopping…")
        for child in children:
            assert child.process is not None  # all started before
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in children:
            assert child.process is not None
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{child.name} did not stop in time; killing it")
                child.process.kill()
                child.process.wait()
        self.stdout.write("all processes stopped")


def default_live_endpoint(port: int) -> str:
    """A Unix socket of this instance's own (``VAR_DIR/run/live-transcription-PORT.sock``);
    a free loopback port where that path is too long for a socket (107 bytes)."""
    path = Path(settings.VAR_DIR) / "run" / f"live-transcription-{port}.sock"
    if len(str(path).encode()) <= 107:  # sun_path holds 108 bytes with the final NUL
        return f"unix:{path}"
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"
