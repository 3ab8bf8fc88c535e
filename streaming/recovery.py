"""After a crash: make interrupted recordings playable and mark their calls incomplete."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from ringadmin.calls.models import Call, CallStatus
from ringadmin.compliance.audit import audit_record
from ringadmin.compliance.models import AuditEventType
from streaming.audio.wav import wav_repair
from streaming.ingest.owner import owner_is_alive
from streaming.transcription.post_call import transcription_after_call

logger = logging.getLogger(__name__)

# A live call from another host whose statistics have not moved for this long is orphaned.
STALE_AFTER = timedelta(minutes=5)


@dataclass(frozen=True)
class Recovered:
    call_id: int
    ringcx_call_id: str
    path: str
    seconds: float
    header_was_valid: bool
    error: str = ""


def _orphaned(call: Call) -> bool:
    alive = owner_is_alive(call.ingest_owner) if call.ingest_owner else False
    if alive is None:  # another host: trust its heartbeat
        return call.updated_at < timezone.now() - STALE_AFTER
    return not alive


def recordings_recover() -> list[Recovered]:
    """Find live calls whose ingest process is gone; repair their files; mark incomplete."""
    results = []
    for call in Call.objects.filter(status=CallStatus.LIVE).order_by("pk"):
        if not _orphaned(call):
            continue
        results.append(_recover_one(call))
    return results


def _recover_one(call: Call) -> Recovered:
    path = Path(call.recording_path) if call.recording_path else None
    seconds, valid, error = 0.0, False, ""
    ended_at = timezone.now()
    if path is not None and path.is_file():
        try:
            repaired = wav_repair(path)
            seconds, valid = repaired.seconds, repaired.header_was_valid
            ended_at = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
        except (OSError, ValueError) as exc:
            error = str(exc)
    else:
        error = "recording file missing"
    with transaction.atomic():
        call = Call.objects.select_for_update().get(pk=call.pk)
        if call.status != CallStatus.LIVE:
            return Recovered(call.pk, call.ringcx_call_id, str(path or ""), seconds, valid, "")
        recording = {
            **call.stream_stats.get("recording", {}),
            "seconds": round(seconds, 3),
            "recovered": True,
        }
        call.stream_stats = {**call.stream_stats, "recording": recording}
        call.status = CallStatus.INCOMPLETE
        call.ended_at = ended_at
        call.duration_seconds = round(seconds, 3)
        call.end_reason = (
            "ingest process stopped unexpectedly; recording recovered"
            if not error
            else f"ingest process stopped unexpectedly; {error}"
        )
        call.save()
        # As for any incomplete call: its live transcript ends (it would stay "Transcribing"),
        # and what was recorded is transcribed.
        transcription_after_call(call)
        audit_record(
            event_type=AuditEventType.CALL_RECORDING_RECOVERED,
            target=call,
            call_id=call.pk,
            data={"seconds": round(seconds, 3), "error": error},
        )
    logger.warning(
        "recovered interrupted recording of call %s: %.1f s (%s)",
        call.ringcx_call_id,
        seconds,
        error or "playable",
    )
    return Recovered(call.pk, call.ringcx_call_id, str(path or ""), seconds, valid, error)
