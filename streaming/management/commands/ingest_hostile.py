"""``manage.py ingest_hostile``: hostile frames against the ingest, and what they cost it.

Starts a fresh ingest server for every attack (the ingest's own server and daphne), sends one
call's worth of hostile frames (huge or jumping sequence numbers, an oversized early frame, a
reconnect whose first frame is absurd, a flood of tiny frames with big jumps) while polling
``/healthz`` and sampling the server's memory, and reports the worst RSS growth, the worst
``/healthz`` latency, the recording's size and whether SIGTERM still stopped the server. The
ingest runs on its own SQLite database and files in a temporary directory, each server under
an address-space and a file-size limit.

It is a probe, not a test: the figures depend on the machine and what else runs on it.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from streaming.tools.bench.hostile import (
    SERVERS,
    HostileProbe,
    HostileSettings,
    attacks,
    format_table,
    hostile_report,
)
from streaming.tools.bench.runner import remove_work_dir


class Command(BaseCommand):
    help = (
        "Send hostile frames to a fresh ingest server per attack and report the worst RSS "
        "growth, /healthz latency and recording size for each."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--servers",
            default=",".join(SERVERS),
            help=f"comma-separated, from {', '.join(SERVERS)} (default: both)",
        )
        parser.add_argument(
            "--attacks",
            default="all",
            help=f"comma-separated, from {', '.join(attacks())} (default: all)",
        )
        parser.add_argument(
            "--settle", type=float, default=3.0, help="seconds watched after the last frame (3)"
        )
        parser.add_argument(
            "--attack-timeout", type=float, default=30.0, help="sending stops here (30 s)"
        )
        parser.add_argument(
            "--memory-limit",
            type=int,
            default=2_000_000_000,
            help="address space per server in bytes, 0 = none (2000000000)",
        )
        parser.add_argument(
            "--file-limit",
            type=int,
            default=2_000_000_000,
            help="largest file a server may write in bytes, 0 = none (2000000000)",
        )
        parser.add_argument("--work-dir", type=Path, help="keep logs here")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        parser.add_argument("--report-file", type=Path, help="also write the JSON report here")

    def handle(self, *args, **options) -> None:
        servers = [s.strip() for s in options["servers"].split(",") if s.strip()]
        unknown = sorted(set(servers) - set(SERVERS))
        if unknown or not servers:
            raise CommandError(f"unknown server(s) {unknown}: choose from {', '.join(SERVERS)}")
        known = attacks()
        chosen = (
            list(known)
            if options["attacks"] == "all"
            else [a.strip() for a in options["attacks"].split(",") if a.strip()]
        )
        unknown = sorted(set(chosen) - set(known))
        if unknown or not chosen:
            raise CommandError(f"unknown attack(s) {unknown}: choose from {', '.join(known)}")
        work_dir = options["work_dir"]
        temporary = work_dir is None
        if temporary:
            work_dir = Path(tempfile.mkdtemp(prefix="ingest-hostile-"))
        work_dir.mkdir(parents=True, exist_ok=True)
        settings = HostileSettings(
            servers=servers,
            attacks=chosen,
            work_dir=work_dir.resolve(),
            settle=options["settle"],
            attack_timeout=options["attack_timeout"],
            memory_limit=max(0, options["memory_limit"]),
            file_limit=max(0, options["file_limit"]),
            log=(lambda line: None) if options["json"] else self._log,
        )
        try:
            results = HostileProbe(settings).run()
        except KeyboardInterrupt as exc:
            raise CommandError("interrupted; every started process was stopped") from exc
        finally:
            if temporary:
                remove_work_dir(work_dir)
        report = hostile_report(results)
        if options["report_file"]:
            options["report_file"].write_text(json.dumps(report, indent=2))
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
        else:
            self.stdout.write("\n" + format_table(results, settings))
            if not temporary:
                self.stdout.write(f"\nlogs: {work_dir}")

    def _log(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()
