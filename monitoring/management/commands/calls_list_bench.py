"""``manage.py calls_list_bench``: the calls list's server time on a large table (PostgreSQL).

Seeds N bench calls (default 1,000,000) with analyses and transcripts unless enough are there,
then times the first page of each filter and sort, a deep page, and full-text searches, and
prints p50/p95 per case against the targets (list p95 < 200 ms, search p95 < 300 ms).
``--clean`` removes the bench calls. A benchmark, not a test: the figures depend on the machine.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from monitoring.tools import list_bench


class Command(BaseCommand):
    help = "Seed N calls on PostgreSQL and time the calls list's filters, sorts and searches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--calls", type=int, default=1_000_000, help="bench calls wanted")
        parser.add_argument("--chunk", type=int, default=50_000, help="calls per transaction")
        parser.add_argument("--repetitions", type=int, default=20, help="timed requests a case")
        parser.add_argument("--depth", type=int, default=50, help="page number of the deep case")
        parser.add_argument("--no-seed", action="store_true", help="time what is there")
        parser.add_argument("--seed-only", action="store_true", help="seed, do not time")
        parser.add_argument("--clean", action="store_true", help="remove the bench calls, exit")
        parser.add_argument("--list-target-ms", type=float, default=200.0)
        parser.add_argument("--search-target-ms", type=float, default=300.0)

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("calls_list_bench needs PostgreSQL: set DATABASE_URL")
        out = self.stdout.write
        if options["clean"]:
            list_bench.clean(out=out)
            return
        if not options["no_seed"]:
            have = list_bench.bench_rows()
            wanted = options["calls"] - have
            if wanted > 0:
                out(f"seeding {wanted:,} calls ({have:,} there already)")
                list_bench.seed(calls=wanted, chunk=options["chunk"], out=out)
            else:
                out(f"{have:,} bench calls there already")
        if options["seed_only"]:
            return
        out(f"timing ({options['repetitions']} requests a case)")
        results = list(
            list_bench.measure(repetitions=options["repetitions"], depth=options["depth"], out=out)
        )
        out("")
        out(f"calls: {list_bench.bench_rows():,} bench calls")
        out(
            list_bench.report(
                results,
                list_target=options["list_target_ms"],
                search_target=options["search_target_ms"],
            )
        )
