"""``manage.py transcribe``: transcribe calls now, in this process, with a progress bar.

    manage.py transcribe --call 12345            # one call (RingCX call id or row id)
    manage.py transcribe --missing               # every recorded call without a transcript
    manage.py transcribe --since 2026-11-01 --engine google --force

It runs the same service as the post-call task (idempotent: a call already transcribed by the
same engine and model is skipped unless --force), so a backfill can be stopped and rerun.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from datetime import time as day_start
from typing import TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q, QuerySet
from django.utils import timezone

from ringadmin.calls.models import Call
from streaming.transcription.engines.base import TranscriptionError
from streaming.transcription.models import TranscriptKind, TranscriptStatus
from streaming.transcription.registry import ENGINES
from streaming.transcription.services import TRANSCRIBABLE, call_transcribe

BAR_WIDTH = 30


class ProgressBar:
    """One line, redrawn: the call's progress and the backfill's."""

    def __init__(self, stream: TextIO, total: int) -> None:
        self.stream, self.total = stream, total
        self.done = 0
        self.label = ""
        self._drawn = 0.0
        self.interactive = stream.isatty()

    def update(self, fraction: float) -> None:
        now = time.monotonic()
        if now - self._drawn < 0.2 and fraction < 1.0:
            return
        self._drawn = now
        overall = (self.done + fraction) / max(1, self.total)
        filled = int(BAR_WIDTH * overall)
        line = (
            f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {overall:6.1%}  "
            f"call {self.done + 1}/{self.total} {self.label} {fraction:4.0%}"
        )
        if self.interactive:
            self.stream.write("\r" + line[:120].ljust(120))
            self.stream.flush()

    def finish_call(self, message: str) -> None:
        self.done += 1
        if self.interactive:
            self.stream.write("\r" + " " * 120 + "\r")
        self.stream.write(message + "\n")
        self.stream.flush()


class Command(BaseCommand):
    help = "Transcribe recorded calls now (backfills, re-runs) with a progress bar."

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--call", help="a RingCX call id or a call row id")
        which.add_argument("--since", help="calls started on or after this date (YYYY-MM-DD)")
        which.add_argument("--missing", action="store_true", help="calls with no transcript yet")
        parser.add_argument("--engine", choices=ENGINES, help="default: the profile's or global")
        parser.add_argument("--force", action="store_true", help="redo finished transcripts")
        parser.add_argument("--limit", type=int, default=0, help="at most this many calls")

    def handle(self, *args, **options) -> None:
        calls = list(self._calls(options))
        if not calls:
            self.stdout.write("No call to transcribe.")
            return
        bar = ProgressBar(sys.stderr, len(calls))
        failures = 0
        for call in calls:
            bar.label = call.ringcx_call_id[:20]
            started = time.monotonic()
            try:
                outcome = call_transcribe(
                    call_id=call.pk,
                    engine=options["engine"],
                    force=options["force"],
                    progress=bar.update,
                )
            except TranscriptionError as exc:
                failures += 1
                bar.finish_call(f"call {call.ringcx_call_id}: FAILED: {exc}")
                continue
            transcript = outcome.transcript
            if outcome.skipped:
                bar.finish_call(
                    f"call {call.ringcx_call_id}: already transcribed by {transcript.engine} "
                    f"({transcript.model}); --force redoes it"
                )
                continue
            seconds = time.monotonic() - started
            bar.finish_call(
                f"call {call.ringcx_call_id}: {transcript.segments.count()} turns, "
                f"{transcript.audio_seconds or 0:.0f} s of audio in {seconds:.1f} s "
                f"({(transcript.audio_seconds or 0) / max(seconds, 1e-6):.1f}x real time)"
            )
        summary = f"{len(calls) - failures} of {len(calls)} call(s) transcribed or up to date"
        if failures:
            raise CommandError(f"{summary}; {failures} failed (see above)")
        self.stdout.write(self.style.SUCCESS(summary))

    def _calls(self, options) -> QuerySet[Call]:
        calls = Call.objects.filter(status__in=TRANSCRIBABLE).exclude(recording_path="")
        if options["call"]:
            value = options["call"]
            match = Q(ringcx_call_id=value) | (Q(pk=int(value)) if value.isdigit() else Q())
            calls = Call.objects.filter(match)
            if not calls.exists():
                raise CommandError(f"no call {value!r} (give a RingCX call id or a row id)")
        elif options["since"]:
            try:
                day = datetime.strptime(options["since"], "%Y-%m-%d").date()
            except ValueError as exc:
                raise CommandError("--since takes a date as YYYY-MM-DD") from exc
            since = timezone.make_aware(datetime.combine(day, day_start.min))
            calls = calls.filter(started_at__gte=since)
        elif options["missing"]:
            calls = calls.exclude(
                transcripts__kind=TranscriptKind.POST_CALL,
                transcripts__status=TranscriptStatus.DONE,
            )
        calls = calls.order_by("started_at")
        return calls[: options["limit"]] if options["limit"] else calls
