"""Queuing the post-call transcript: when a call ends (or is recovered after a crash), and
when an admin asks again. The task (``streaming.transcription.tasks``) runs
``streaming.transcription.services.call_transcribe``."""

from __future__ import annotations

import logging

from django.db import transaction

from ringadmin.calls.models import Call
from ringadmin.compliance.consent import consent_mark_no_transcript
from streaming.transcription.engines.base import TranscriptionError
from streaming.transcription.models import Transcript, TranscriptKind, TranscriptStatus
from streaming.transcription.registry import NONE, engine_build, engine_close, engine_name_for
from streaming.transcription.services import (
    TRANSCRIBABLE,
    call_profile,
    live_transcripts_close,
    transcript_fail,
)
from streaming.transcription.tasks import transcribe_call

logger = logging.getLogger("streaming.transcription")


def transcription_time_limits(*, audio_seconds: float | None) -> tuple[int, int]:
    """(soft, hard) seconds for one call: generous for slow hosts, never unbounded."""
    soft = int(300 + 3 * (audio_seconds or 600))
    return soft, soft + 120


def transcription_enqueue(
    *, call: Call, engine: str | None = None, force: bool = False
) -> Transcript | None:
    """Queue the post-call transcript (after the surrounding transaction commits).

    Returns the transcript row that will be filled, or None when the call is not to be
    transcribed (engine ``none``, no recording, rejected call).
    """
    if call.status not in TRANSCRIBABLE or not call.recording_path:
        return None
    name = engine_name_for(profile=call_profile(call=call), requested=engine)
    if name == NONE:
        return None
    built = engine_build(name)
    info = built.info
    engine_close(built)
    transcript, created = Transcript.objects.get_or_create(
        call=call, kind=TranscriptKind.POST_CALL, engine=info.engine, model=info.model
    )
    if not created and transcript.status == TranscriptStatus.DONE and not force:
        return transcript
    if created or transcript.status != TranscriptStatus.RUNNING:
        Transcript.objects.filter(pk=transcript.pk).update(
            status=TranscriptStatus.PENDING, progress=0.0, error=""
        )
    soft, hard = transcription_time_limits(audio_seconds=call.duration_seconds)

    def send() -> None:
        try:
            transcribe_call.apply_async(
                kwargs={"call_id": call.pk, "engine": name, "force": force},
                soft_time_limit=soft,
                time_limit=hard,
            )
        except Exception as exc:  # the broker is down: no task will ever run this row
            transcript_fail(
                transcript, f"could not be queued (is the Celery broker running?): {exc}"
            )

    transaction.on_commit(send)
    return transcript


def transcription_after_call(call: Call) -> None:
    """Close the call's live transcript and queue the post-call one; a transcription problem
    never stops a call from being finalized (or recovered)."""
    live_transcripts_close(call_id=call.pk)
    queued = None
    try:
        queued = transcription_enqueue(call=call)
    except TranscriptionError as exc:
        logger.warning("call %s will not be transcribed: %s", call.pk, exc)
    if queued is None:  # a spoken consent notice cannot be checked in the audio
        consent_mark_no_transcript(call_id=call.pk)
