"""``manage.py transcripts_redact``: redact transcripts stored before redaction, in place.

Run once after upgrading (and after any change to what is redacted). Idempotent: a transcript
already redacted is left as it is.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from streaming.transcription.services import transcripts_redact_stored


class Command(BaseCommand):
    help = "Redact card numbers, security codes and SSNs in stored transcripts."

    def handle(self, *args: Any, **options: Any) -> None:
        transcripts, segments = transcripts_redact_stored()
        self.stdout.write(f"{segments} segment(s) of {transcripts} transcript(s) redacted")
