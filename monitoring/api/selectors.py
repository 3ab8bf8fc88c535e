"""The API's reads, each starting from the selectors that decide who may see what."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.db.models import Prefetch, QuerySet

from ringadmin.calls.models import Call
from ringadmin.calls.selectors import calls_visible_to
from streaming.models import Transcript, TranscriptKind, TranscriptSegment, TranscriptStatus


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
    """The transcript to show: the one asked for, else the newest finished post-call one, else
    the live one (complete once the call ended, growing while it streams). Segments in order."""
    segments = Prefetch("segments", queryset=TranscriptSegment.objects.order_by("start", "seq"))
    transcripts: QuerySet[Transcript] = Transcript.objects.filter(call=call).prefetch_related(
        segments
    )
    if transcript_id is not None:
        return transcripts.filter(pk=transcript_id).first()
    finished = transcripts.filter(kind=TranscriptKind.POST_CALL, status=TranscriptStatus.DONE)
    return (
        finished.order_by("-completed_at", "-id").first()
        or transcripts.filter(kind=TranscriptKind.LIVE).order_by("-id").first()
    )
