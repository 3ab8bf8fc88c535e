"""``manage.py ingest_bench``: concurrent real-time calls per core, ours against the ceiling.

Starts the ingest server (daphne, and uvicorn if installed) and a bare-websockets reference
server, each pinned to one core, drives them with the simulator pinned to another core, and
finds for each the largest number of concurrent stereo calls with zero lost frames and p99
send→written lag under 50 ms; then the most frames per second in a flood, and resident memory
per call. The ingest runs on its own SQLite database and files in a temporary directory.

It is a benchmark, not a test: the figures depend on the machine and what else runs on it.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from streaming.tools.bench.processes import can_pin
from streaming.tools.bench.report import bench_report, format_table
from streaming.tools.bench.rounds import BenchSettings
from streaming.tools.bench.runner import SERVERS, Bench, remove_work_dir


class Command(BaseCommand):
    help = (
        "Benchmark the RingCX ingest against a bare-websockets reference: the most concurrent "
        "real-time calls per core with zero loss and p99 lag under 50 ms, flood frames/s, "
        "RSS per call."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--servers",
            default="reference,daphne",
            help=f"comma-separated, from {', '.join(SERVERS)} (default: reference,daphne)",
        )
        parser.add_argument("--duration", type=float, help="seconds of audio per round (10)")
        parser.add_argument("--start-calls", type=int, help="first round's calls (50)")
        parser.add_argument("--max-calls", type=int, help="never try more calls (1000)")
        parser.add_argument("--rounds", type=int, help="real-time search steps per server (10)")
        parser.add_argument(
            "--repeat",
            type=int,
            default=1,
            help="rounds per step, the median p99 decides (use 3 on a busy machine)",
        )
        parser.add_argument("--p99-ms", type=float, default=50.0, help="p99 lag limit (50)")
        parser.add_argument("--flood-calls", type=int, help="calls in the flood round (100)")
        parser.add_argument("--flood-duration", type=float, help="audio per flood call (10 s)")
        parser.add_argument("--no-flood", action="store_true", help="skip the flood round")
        parser.add_argument("--server-cpu", type=int, default=0)
        parser.add_argument("--client-cpu", type=int, default=1)
        parser.add_argument("--no-pin", action="store_true", help="do not pin to cores")
        parser.add_argument("--time-budget", type=float, help="seconds for everything (3600)")
        parser.add_argument(
            "--quick",
            action="store_true",
            help="a short smoke run: 5 s rounds, at most 5 per server, small flood",
        )
        parser.add_argument(
            "--database-url", help="the ingest's database (default: a fresh SQLite file)"
        )
        parser.add_argument("--work-dir", type=Path, help="keep logs and files here")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        parser.add_argument("--report-file", type=Path, help="also write the JSON report here")

    def handle(self, *args, **options) -> None:
        servers = [s.strip() for s in options["servers"].split(",") if s.strip()]
        unknown = sorted(set(servers) - set(SERVERS))
        if unknown or not servers:
            raise CommandError(f"unknown server(s) {unknown}: choose from {', '.join(SERVERS)}")
        quick = options["quick"]
        defaults = (
            {"duration": 5.0, "start_calls": 50, "max_calls": 400, "rounds": 5,
             "flood_calls": 40, "flood_duration": 10.0, "time_budget": 900.0}
            if quick
            else {"duration": 10.0, "start_calls": 50, "max_calls": 1000, "rounds": 10,
                  "flood_calls": 100, "flood_duration": 10.0, "time_budget": 3600.0}
        )  # fmt: skip
        chosen: dict[str, Any] = {
            k: options[k] if options.get(k) is not None else v for k, v in defaults.items()
        }
        work_dir = options["work_dir"]
        temporary = work_dir is None
        if temporary:
            work_dir = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
        work_dir.mkdir(parents=True, exist_ok=True)
        log = (lambda line: None) if options["json"] else self._log
        server_cpu, client_cpu = options["server_cpu"], options["client_cpu"]
        if server_cpu == client_cpu and not options["no_pin"]:
            raise CommandError("--server-cpu and --client-cpu must differ (or use --no-pin)")
        if options["no_pin"] or not (can_pin(server_cpu) and can_pin(client_cpu)):
            server_cpu = client_cpu = None  # e.g. one core, or no sched_setaffinity here
        settings = BenchSettings(
            servers=servers,
            work_dir=work_dir.resolve(),
            p99_limit_ms=options["p99_ms"],
            flood=not options["no_flood"],
            server_cpu=server_cpu,
            client_cpu=client_cpu,
            database_url=options["database_url"],
            repeat=max(1, options["repeat"]),
            log=log,
            **chosen,
        )
        # The benchmark's own work (polling, sampling) stays off the server's core.
        previous_affinity = None
        if client_cpu is not None:
            previous_affinity = os.sched_getaffinity(0)
            os.sched_setaffinity(0, {client_cpu})
        try:
            summaries = Bench(settings).run()
        except KeyboardInterrupt as exc:
            raise CommandError("interrupted; every started process was stopped") from exc
        finally:
            if previous_affinity is not None:
                os.sched_setaffinity(0, previous_affinity)
            if temporary:
                remove_work_dir(work_dir)
        report = bench_report(summaries, settings=settings)
        if options["report_file"]:
            options["report_file"].write_text(json.dumps(report, indent=2))
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
        else:
            self.stdout.write("\n" + format_table(summaries, settings=settings))
            if not temporary:
                self.stdout.write(f"\nlogs and per-round files: {work_dir}")

    def _log(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()
