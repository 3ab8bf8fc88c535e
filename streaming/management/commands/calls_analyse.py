"""``manage.py calls_analyse [--all | --call ID …]``: compute the conversation analytics and
waveform of calls recorded before the analysis existed (or again, with ``--call``).

Without arguments (or with ``--all``) every finished call with a recording and no analysis is
analysed, one at a time, with a line of progress per call; ``--call`` (repeatable) recomputes
the named calls whether or not they have one.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandParser

from ringadmin.calls.models import Call
from streaming.call_analysis import call_analyse, calls_without_analysis


class Command(BaseCommand):
    help = "Analyse calls' recordings (talk time, silence, overtalk, interruptions, waveform)."

    def add_arguments(self, parser: CommandParser) -> None:
        group = parser.add_mutually_exclusive_group()
        group.add_argument(
            "--all", action="store_true", help="every finished call without an analysis (default)"
        )
        group.add_argument(
            "--call", type=int, action="append", metavar="ID", help="this call's id (repeatable)"
        )

    def handle(self, *args, **options) -> None:
        if options["call"]:
            ids = list(Call.objects.filter(pk__in=options["call"]).values_list("pk", flat=True))
            for missing in sorted(set(options["call"]) - set(ids)):
                self.stderr.write(f"call {missing}: no such call")
        else:
            ids = list(calls_without_analysis().values_list("pk", flat=True))
        total = len(ids)
        done = 0
        for position, call_id in enumerate(sorted(ids), start=1):
            started = time.monotonic()
            analysis = call_analyse(call_id=call_id)
            took = time.monotonic() - started
            if analysis is None:
                self.stdout.write(
                    f"[{position}/{total}] call {call_id}: skipped "
                    "(live, no recording, or not a stereo WAV)"
                )
                continue
            done += 1
            self.stdout.write(
                f"[{position}/{total}] call {call_id}: {analysis.audio_seconds:.0f} s of audio "
                f"analysed in {took:.2f} s"
            )
        self.stdout.write(self.style.SUCCESS(f"{done} of {total} call(s) analysed."))
