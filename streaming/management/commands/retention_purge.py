"""``manage.py retention_purge [--dry-run] [--batch N]``: remove the content of calls past their
profile's retention (never those under legal hold), leaving tombstones and audit entries.

The Celery beat task runs the same service one batch at a time; this command runs batches
until none is left (or one batch with ``--once``). ``--dry-run`` lists and changes nothing.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from streaming.retention import calls_past_retention, retention_purge


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = "Purge recordings, analyses and transcripts of calls past retention (not held)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="list what would be purged")
        parser.add_argument("--batch", type=positive_int, default=None, metavar="N")
        parser.add_argument("--once", action="store_true", help="one batch only")

    def handle(self, *args, **options) -> None:
        if options["dry_run"]:
            for call in calls_past_retention().iterator():
                self.stdout.write(
                    f"would purge call {call.pk} ({call.ringcx_call_id}, started "
                    f"{call.started_at:%Y-%m-%d})"
                )
            self.stdout.write(f"{calls_past_retention().count()} call(s) would be purged.")
            return
        total = 0
        while True:
            report = retention_purge(batch=options["batch"])
            for call_id in report.purged:
                self.stdout.write(f"purged call {call_id}")
            for call_id in report.held:
                self.stdout.write(f"kept call {call_id}: under legal hold")
            total += len(report.purged)
            if options["once"] or not report.purged:
                break
        self.stdout.write(self.style.SUCCESS(f"{total} call(s) purged."))
