"""``manage.py calls_page_bench``: how long the analysis of a long call takes, and how fast the
call page and its waveform are served (p50/p95 over N requests, server side, Django's test
client). Nothing is left behind: the data is rolled back and the recording deleted."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from monitoring.tools.call_page_bench import call_page_bench

TARGET_MS = 500


class Command(BaseCommand):
    help = "Benchmark the call page: analysis of a synthetic long call, then page and peaks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seconds", type=float, default=3600, help="call length (3600)")
        parser.add_argument("--requests", type=int, default=50, help="requests per URL (50)")

    def handle(self, *args, **options) -> None:
        result = call_page_bench(
            seconds=options["seconds"],
            requests=max(1, options["requests"]),
            progress=lambda line: self.stderr.write(line),
        )
        self.stdout.write(
            f"recording: {result.audio_seconds:.0f} s stereo 8 kHz, {result.turns} transcript "
            f"turns (written in {result.write_seconds:.1f} s)"
        )
        self.stdout.write(f"analysis (one pass, VAD + peaks): {result.analysis_seconds:.2f} s")
        for timing in result.timings:
            verdict = "ok" if timing.p95_ms < TARGET_MS else f"over the {TARGET_MS} ms target"
            self.stdout.write(
                f"{timing.name}: p50 {timing.p50_ms:.1f} ms, p95 {timing.p95_ms:.1f} ms over "
                f"{timing.requests} requests, {timing.bytes / 1024:.0f} KiB ({verdict})"
            )
