"""Which transcript of a call people read, and its turns in time order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Case, IntegerField, Q, Value, When

from ringadmin.calls.models import Call
from streaming.transcription.models import (
    Transcript,
    TranscriptKind,
    TranscriptSegment,
    TranscriptStatus,
)

_FINISHED_POST_CALL = Q(kind=TranscriptKind.POST_CALL, status=TranscriptStatus.DONE)


def call_transcript(*, call: Call) -> Transcript | None:
    """The finished post-call transcript (the newest, if several engines made one), else the
    live one collected during the call; one query. A transcript still being made, or one
    that failed, is not shown."""
    return (
        Transcript.objects.filter(call=call)
        .filter(_FINISHED_POST_CALL | Q(kind=TranscriptKind.LIVE))
        .annotate(
            preference=Case(
                When(_FINISHED_POST_CALL, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("preference", "-completed_at", "-pk")
        .first()
    )


def transcript_turns(*, transcript: Transcript) -> list[TranscriptSegment]:
    """The turns in time order (one query; the word timings are not loaded)."""
    return list(
        TranscriptSegment.objects.filter(transcript=transcript)
        .defer("words")
        .order_by("start", "seq")
    )


def transcript_turn_rows(*, transcript: Transcript) -> list[Mapping[str, Any]]:
    """The turns as plain rows (speaker, start, end, text) for a page: no model instances to
    build for the hundreds of turns of a long call."""
    return list(
        TranscriptSegment.objects.filter(transcript=transcript)
        .order_by("start", "seq")
        .values("speaker", "start", "end", "text")
    )


MAX_LINES_PER_ANSWER = 200


def embed_transcript_lines(*, call_id: int, after: int = 0) -> list[dict[str, Any]]:
    """The call's live finals stored after line ``after`` (ids grow as lines are stored, so
    a poller asks only for what is new), a bounded number per answer."""
    segments = TranscriptSegment.objects.filter(
        transcript__call_id=call_id, transcript__kind=TranscriptKind.LIVE, pk__gt=after
    ).order_by("pk")[:MAX_LINES_PER_ANSWER]
    return [
        {"id": s.pk, "speaker": s.speaker, "text": s.text, "start": s.start, "end": s.end}
        for s in segments
    ]
