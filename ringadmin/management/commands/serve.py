"""Start the whole application: the web/ingest server, a Celery worker and Celery beat.

One command for ``make run``: it supervises the three processes, prints where to go, and on
Ctrl-C (or SIGTERM) stops every one of them, killing any that will not stop in time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

STOP_GRACE_SECONDS = 15


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None


class Command(BaseCommand):
    help = "Run daphne, a Celery worker and Celery beat together; Ctrl-C stops them all."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-worker", action="store_true", help="do not start Celery")
        parser.add_argument("--worker-concurrency", type=int, default=2)

    def handle(self, *args, **options) -> None:
        python = sys.executable
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
                ],
            ),
        ]
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
            child.process = subprocess.Popen(child.argv, start_new_session=True)
            self.stdout.write(f"started {child.name} (pid {child.process.pid})")
        url = f"http://{options['host']}:{options['port']}/"
        self.stdout.write(
            self.style.SUCCESS(
                f"\nringadmin is running at {url}  (health: {url}healthz, admin: {url}admin/)\n"
                f"RingCX ingest socket: ws://{options['host']}:{options['port']}/  "
                "(behind TLS in production: wss://your-host)\nPress Ctrl-C to stop.\n"
            )
        )
        exit_code = 0
        while not stopping:
            for child in children:
                code = child.process.poll()
                if code is not None:
                    self.stderr.write(f"{child.name} exited with code {code}; stopping the rest")
                    exit_code = code or 1
                    stopping = True
                    break
            else:
                time.sleep(0.2)
        self._stop_all(children)
        if exit_code:
            sys.exit(exit_code)

    def _stop_all(self, children: list[Child]) -> None:
        self.stdout.write("stopping…")
        for child in children:
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in children:
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{child.name} did not stop in time; killing it")
                child.process.kill()
                child.process.wait()
        self.stdout.write("all processes stopped")
