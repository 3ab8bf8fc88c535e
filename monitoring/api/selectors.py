"""The API's reads, each starting from the selectors that decide who may see what."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.db.models import Prefetch

from ringadmin.calls.models import Call
from ringadmin.calls.selectors import calls_visible_to
from streaming.models import Transcript, TranscriptSegment
from streaming.transcription.selectors import call_transcript as shown_transcript


def call_detail_for(*, user: AbstractUser | AnonymousUser, call_id: int) -> Call | None:
    """One visible call with its analysis and its transcripts' summaries, in three queries."""
    return (
        calls_visible_to(user=user)
        .select_related("analysis")
        .prefetch_related(Prefetch("transcripts", queryset=Transcript.objects.order_by("-id")))
        .filter(pk=call_id)
        .first()
    )


def call_transcript(*, call: Call, transcript_id: int | None = None) -> Transcript | None:
    """The transcript asked for, else the one the call page shows (the finished post-call one,
    else the live one). Segments in order."""
    if transcript_id is None:
        shown = shown_transcript(call=call)
        if shown is None:
            return None
        transcript_id = shown.pk
    segments = Prefetch("segments", queryset=TranscriptSegment.objects.order_by("start", "seq"))
    return Transcript.objects.filter(call=call, pk=transcript_id).prefetch_related(segments).first()
