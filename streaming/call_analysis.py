"""The conversation analytics and waveform of a finished call: computed once, stored, read.

The Celery task ``streaming.call_analyse`` (queued by the post-call work) and the
``calls_analyse`` command write through :func:`call_analyse`; the call page reads the stored
row and :func:`call_peaks_payload`, never the recording, so a page view costs no audio work.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db.models import QuerySet

from ringadmin.calls.models import Call, CallAnalysis, CallStatus
from streaming.audio.analysis import Peaks, WavFormatError, analyse_wav
from streaming.recordings import recording_file

logger = logging.getLogger(__name__)

ANALYSABLE_STATUSES = (CallStatus.COMPLETED, CallStatus.INCOMPLETE)


def call_analyse(*, call_id: int) -> CallAnalysis | None:
    """Analyse the call's recording and store the result (running it again recomputes the
    same row). ``None`` when there is nothing to analyse: no such call, a live call, no
    recording file, or a file that is not a stereo PCM16 WAV (one warning line)."""
    call = Call.objects.filter(pk=call_id).only("pk", "status", "recording_path").first()
    if call is None or call.status not in ANALYSABLE_STATUSES:
        return None
    path = recording_file(call)
    if path is None:
        return None
    try:
        result = analyse_wav(path)
    except (WavFormatError, OSError) as exc:
        logger.warning("recording of call %s cannot be analysed: %s", call_id, exc)
        return None
    stats = result.stats
    analysis, _ = CallAnalysis.objects.update_or_create(
        call=call,
        defaults={
            "audio_seconds": round(stats.audio_seconds, 3),
            "agent_talk_seconds": round(stats.agent_talk_seconds, 3),
            "caller_talk_seconds": round(stats.caller_talk_seconds, 3),
            "silence_seconds": round(stats.silence_seconds, 3),
            "overtalk_seconds": round(stats.overtalk_seconds, 3),
            "longest_monologue_seconds": round(stats.longest_monologue_seconds, 3),
            "longest_monologue_speaker": stats.longest_monologue_speaker,
            "agent_interruptions": stats.agent_interruptions,
            "caller_interruptions": stats.caller_interruptions,
            "peaks": result.peaks.to_bytes(),
        },
    )
    return analysis


def calls_without_analysis() -> QuerySet[Call]:
    """Finished calls with a recording and no analysis yet (what a backfill has to do)."""
    return (
        Call.objects.filter(status__in=ANALYSABLE_STATUSES, analysis__isnull=True)
        .exclude(recording_path="")
        .order_by("pk")
    )


def call_peaks_payload(*, call: Call) -> dict[str, Any] | None:
    """The stored waveform as the page draws it, or ``None`` when not analysed (yet).

    ``agent`` and ``caller`` are ``[min, max]`` pairs per bucket, flattened, in -127..127.
    """
    blob = CallAnalysis.objects.filter(call=call).values_list("peaks", flat=True).first()
    if not blob:
        return None
    try:
        peaks = Peaks.from_bytes(bytes(blob))
    except ValueError:
        logger.warning("stored waveform of call %s is unreadable", call.pk)
        return None
    return {
        "seconds": peaks.total_samples / peaks.sample_rate,
        "seconds_per_bucket": peaks.seconds_per_bucket,
        "buckets": peaks.buckets,
        "agent": peaks.channel_pairs(0),
        "caller": peaks.channel_pairs(1),
    }
