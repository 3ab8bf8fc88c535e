"""The one door every transcript line passes before it is stored.

What must be redacted (card numbers, security codes, other personal data) is defined by the
compliance work; it replaces ``TRANSCRIPT_REDACTOR`` or wraps :func:`transcript_redact`.
Until then lines are stored as recognised, but never around this function.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from streaming.transcription.engines.base import Segment


def no_redaction(segment: Segment) -> Segment:
    return segment


def transcript_redact(segments: list[Segment]) -> list[Segment]:
    redactor = import_string(getattr(settings, "TRANSCRIPT_REDACTOR", "") or _DEFAULT)
    return [redactor(segment) for segment in segments]


_DEFAULT = "streaming.transcription.redaction.no_redaction"
