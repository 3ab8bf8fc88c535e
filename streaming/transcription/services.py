"""Transcript services: transcribe a call, store (atomically, through redaction), live lines.

Queuing the post-call transcript is ``streaming.transcription.post_call`` (it sends the task
that runs what is here).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.utils import timezone

from ringadmin.calls.models import Call, CallStatus
from ringadmin.compliance.audit import audit_record
from ringadmin.compliance.consent import consent_verify_in_transcript
from ringadmin.compliance.models import AuditEventType
from streaming.audio.wav import wav_read_stereo
from streaming.profiles.models import StreamingProfile
from streaming.profiles.selectors import streaming_profile_find
from streaming.transcription.engines.base import (
    Segment,
    StereoResult,
    TranscriptionError,
    Word,
    transcribe_stereo,
)
from streaming.transcription.engines.whisper import BUNDLED_LABEL
from streaming.transcription.models import (
    Speaker,
    Transcript,
    TranscriptKind,
    TranscriptSegment,
    TranscriptStatus,
    UnredactedSegment,
)
from streaming.transcription.redaction import (
    RedactedSegment,
    redactions_in_text,
    transcript_redact,
)
from streaming.transcription.registry import NONE, engine_build, engine_close, engine_name_for
from streaming.transcription.repetition import segment_without_repeats, segments_without_repeats
from streaming.transcription.turns import merge_turns

logger = logging.getLogger("streaming.transcription")

PROGRESS_WRITE_SECONDS = 2.0
LIVE_ENGINE = "whisper-live"
TRANSCRIBABLE = (CallStatus.COMPLETED, CallStatus.INCOMPLETE)


def call_profile(*, call: Call) -> StreamingProfile | None:
    """The profile whose product the call streamed for (its transcription engine)."""
    return streaming_profile_find(
        product_type=call.product_type,
        product_id=call.product_id,
        sub_account_id=call.subaccount_id or None,
    )


@dataclass
class TranscribeOutcome:
    transcript: Transcript
    skipped: bool  # already done with this engine and model


def call_transcribe(
    *,
    call_id: int,
    engine: str | None = None,
    force: bool = False,
    progress: Callable[[float], None] | None = None,
) -> TranscribeOutcome:
    """Transcribe a call's recording, both channels, and store the merged turns.

    Idempotent: a call already transcribed by the same engine and model is left alone unless
    ``force``; a rerun replaces the segments in one transaction, so readers see the old
    transcript or the new one, never half of each.
    """
    call = Call.objects.get(pk=call_id)
    name = engine_name_for(profile=call_profile(call=call), requested=engine)
    if name == NONE:
        raise TranscriptionError("transcription is off for this call (engine 'none')")
    try:
        _check_transcribable(call)
        built = engine_build(name)
    except TranscriptionError as exc:
        # Nothing is created for a call that cannot be transcribed; a row queued for it
        # earlier (the post-call task's) says why instead of staying "Queued".
        transcripts_fail_unfinished(call_id=call.pk, engine=name, error=str(exc), running=False)
        raise
    try:
        return _transcribe_with(call, built, force=force, progress=progress)
    finally:
        engine_close(built)


def _check_transcribable(call: Call) -> None:
    if call.status == CallStatus.LIVE:
        raise TranscriptionError(
            f"call {call.pk} is still live: it is transcribed when its recording is complete"
        )
    if call.status not in TRANSCRIBABLE:
        raise TranscriptionError(
            f"call {call.pk} was {call.status}: there is nothing to transcribe"
        )
    if not call.recording_path:
        raise TranscriptionError(f"call {call.pk} has no recording")


def _transcribe_with(call: Call, built, *, force: bool, progress) -> TranscribeOutcome:
    transcript, _ = Transcript.objects.get_or_create(
        call=call, kind=TranscriptKind.POST_CALL, engine=built.info.engine, model=built.info.model
    )
    if transcript.status == TranscriptStatus.DONE and not force:
        return TranscribeOutcome(transcript=transcript, skipped=True)
    try:
        stereo = wav_read_stereo(call.recording_path)
    except (OSError, ValueError) as exc:
        transcript_fail(transcript, f"the recording cannot be read: {exc}")
        raise TranscriptionError(f"the recording of call {call.pk} cannot be read: {exc}") from exc
    audio_seconds = stereo.shape[0] / 8000
    Transcript.objects.filter(pk=transcript.pk).update(
        status=TranscriptStatus.RUNNING,
        progress=0.0,
        error="",
        attempts=transcript.attempts + 1,
        updated_at=timezone.now(),
    )
    reporter = _ProgressWriter(transcript.pk, progress)
    started = time.monotonic()
    # Whatever stops this run (an engine error, a time limit, Ctrl-C, a redactor that raises,
    # the database), the row must not stay "Transcribing".
    try:
        result = transcribe_stereo(
            built, stereo[:, 0].copy(), stereo[:, 1].copy(), progress=reporter
        )
        transcript = transcript_store(
            transcript_id=transcript.pk,
            result=result,
            audio_seconds=audio_seconds,
            processing_seconds=time.monotonic() - started,
        )
    except TranscriptionError as exc:
        transcript_fail(transcript, str(exc))
        raise
    except Exception as exc:
        transcript_fail(transcript, f"unexpected failure: {exc!r}")
        raise
    except BaseException as exc:  # KeyboardInterrupt, SystemExit
        transcript_fail(transcript, f"interrupted ({type(exc).__name__})")
        raise
    return TranscribeOutcome(transcript=transcript, skipped=False)


class _ProgressWriter:
    """Progress to the admin (throttled: one write every two seconds) and to a callback."""

    def __init__(self, transcript_id: int, callback: Callable[[float], None] | None) -> None:
        self.transcript_id = transcript_id
        self.callback = callback
        self._written = 0.0

    def __call__(self, fraction: float) -> None:
        fraction = max(0.0, min(1.0, fraction))
        if self.callback is not None:
            self.callback(fraction)
        now = time.monotonic()
        if now - self._written >= PROGRESS_WRITE_SECONDS:
            self._written = now
            Transcript.objects.filter(pk=self.transcript_id).update(progress=round(fraction, 3))


def transcript_fail(transcript: Transcript, error: str) -> None:
    """Mark one transcript failed, saying why (shown in the admin)."""
    Transcript.objects.filter(pk=transcript.pk).update(
        status=TranscriptStatus.FAILED, error=error[:2000], updated_at=timezone.now()
    )
    logger.warning("transcript of call %s failed: %s", transcript.call_id, error)


def transcripts_fail_unfinished(
    *, call_id: int, engine: str | None, error: str, running: bool = True
) -> int:
    """Fail a call's post-call transcripts still "Queued" (and "Transcribing" when
    ``running``) for an engine (None: any), because the run meant to finish them cannot."""
    statuses = [TranscriptStatus.PENDING, *([TranscriptStatus.RUNNING] if running else [])]
    rows = Transcript.objects.filter(
        call_id=call_id, kind=TranscriptKind.POST_CALL, status__in=statuses
    )
    if engine:
        rows = rows.filter(engine=engine)
    count = rows.update(
        status=TranscriptStatus.FAILED, error=error[:2000], updated_at=timezone.now()
    )
    if count:
        logger.warning("%s transcript(s) of call %s failed: %s", count, call_id, error)
    return count


@transaction.atomic
def transcript_store(
    *, transcript_id: int, result: StereoResult, audio_seconds: float, processing_seconds: float
) -> Transcript:
    """Replace a transcript's segments with ``result``, merged into turns and redacted."""
    transcript = Transcript.objects.select_for_update().get(pk=transcript_id)
    cleaned = StereoResult(
        agent=segments_without_repeats(result.agent),
        caller=segments_without_repeats(result.caller),
    )
    turns = merge_turns(cleaned)
    # The whole call at once, both speakers: digits split across turns are found.
    redacted = transcript_redact([(turn.speaker, turn.segment) for turn in turns])
    transcript.segments.all().delete()
    rows = TranscriptSegment.objects.bulk_create(
        [
            _segment_row(transcript, seq, turn.speaker, kept)
            for seq, (turn, kept) in enumerate(zip(turns, redacted, strict=True), start=1)
        ]
    )
    _unredacted_store(rows, redacted)
    transcript.status = TranscriptStatus.DONE
    transcript.progress = 1.0
    transcript.error = ""
    transcript.audio_seconds = round(audio_seconds, 3)
    transcript.processing_seconds = round(processing_seconds, 3)
    transcript.completed_at = timezone.now()
    transcript.save()
    # The consent notice's key phrase, looked for in the agent's words (only a score is kept).
    agent_lines = [(segment.start, segment.end, segment.text) for segment in result.agent]
    consent_verify_in_transcript(call_id=transcript.call_id, agent_lines=agent_lines)
    return transcript


def _words_json(words: tuple[Word, ...]) -> list[dict[str, Any]]:
    return [
        {"start": w.start, "end": w.end, "text": w.text, "confidence": w.confidence} for w in words
    ]


def _segment_row(
    transcript: Transcript, seq: int, speaker: str, redacted: RedactedSegment
) -> TranscriptSegment:
    segment = redacted.segment
    return TranscriptSegment(
        transcript=transcript,
        seq=seq,
        speaker=speaker,
        start=segment.start,
        end=segment.end,
        text=segment.text,
        confidence=segment.confidence,
        words=_words_json(segment.words),
        redactions=[r.to_dict() for r in redacted.redactions],
    )


def _unredacted_store(rows: list[TranscriptSegment], redacted: list[RedactedSegment]) -> None:
    """Keep the text before redaction, of the segments that had any, only when allowed."""
    if not settings.TRANSCRIPT_STORE_UNREDACTED:
        return
    UnredactedSegment.objects.bulk_create(
        [
            UnredactedSegment(
                segment=row, text=kept.original.text, words=_words_json(kept.original.words)
            )
            for row, kept in zip(rows, redacted, strict=True)
            if kept.original is not None and row.pk is not None
        ],
        ignore_conflicts=True,
    )


def transcript_unredacted_text(
    *,
    user: User | AnonymousUser,
    transcript: Transcript,
    ip_address: str | None = None,
) -> list[dict[str, Any]]:
    """The transcript's turns as said, for a person holding ``view_unredacted_transcript``;
    each read is audited (even one that finds nothing kept). Raises ``PermissionError``."""
    if not user.has_perm("streaming.view_unredacted_transcript"):
        raise PermissionError("reading unredacted transcripts needs view_unredacted_transcript")
    segments = (
        TranscriptSegment.objects.filter(transcript=transcript)
        .select_related("unredacted")
        .order_by("start", "seq")
    )
    lines = []
    kept = 0
    for segment in segments:
        original = getattr(segment, "unredacted", None)
        kept += original is not None
        lines.append(
            {
                "seq": segment.seq,
                "speaker": segment.speaker,
                "start": segment.start,
                "end": segment.end,
                "text": original.text if original is not None else segment.text,
            }
        )
    audit_record(
        event_type=AuditEventType.TRANSCRIPT_VIEWED,
        actor=user,
        target=transcript,
        call_id=transcript.call_id,
        data={"unredacted": True, "segments_unredacted": kept},
        ip_address=ip_address,
    )
    return lines


# --- live ----------------------------------------------------------------------------------------


LIVE_CONTEXT_SEGMENTS = 8  # earlier lines a new line is redacted with (a number split over turns)


def live_transcript_append_many(*, lines_by_call: Mapping[int, list[dict[str, Any]]]) -> None:
    """Store live finals (batched by the ingest), redacted like every transcript line: with the
    call's last stored lines as context, which are corrected when a number spans both."""
    with transaction.atomic():
        for call_id, lines in lines_by_call.items():
            transcript, _ = Transcript.objects.get_or_create(
                call_id=call_id,
                kind=TranscriptKind.LIVE,
                engine=LIVE_ENGINE,
                model=BUNDLED_LABEL,
                defaults={"status": TranscriptStatus.RUNNING},
            )
            pending: list[tuple[str, int, Segment]] = []
            for line in lines:
                segment = Segment(
                    start=float(line["start"]),
                    end=float(line["end"]),
                    text=str(line["text"]),
                    words=tuple(
                        Word(
                            start=float(w["start"]),
                            end=float(w["end"]),
                            text=str(w["text"]),
                            confidence=w.get("confidence"),
                        )
                        for w in line.get("words") or ()
                    ),
                )
                kept = segment_without_repeats(segment)  # the worker checked; so do we
                if kept is None:
                    continue
                speaker = Speaker.AGENT if line["speaker"] == Speaker.AGENT else Speaker.CALLER
                pending.append((speaker, int(line["seq"]), kept))
            _live_store(transcript, pending)


def _live_store(transcript: Transcript, pending: list[tuple[str, int, Segment]]) -> None:
    if not pending:
        return
    context = list(
        TranscriptSegment.objects.filter(transcript=transcript)
        .exclude(seq__in=[seq for _speaker, seq, _segment in pending])
        .order_by("-start", "-seq")[:LIVE_CONTEXT_SEGMENTS]
    )[::-1]
    redacted = transcript_redact(
        [(row.speaker, _row_segment(row)) for row in context]
        + [(speaker, segment) for speaker, _seq, segment in pending]
    )
    corrected = []
    originals = []
    for row, kept in zip(context, redacted[: len(context)], strict=True):
        if kept.changed:
            originals.append(UnredactedSegment(segment=row, text=row.text, words=row.words))
            row.text = kept.segment.text
            row.words = _words_json(kept.segment.words)
            row.redactions = [r.to_dict() for r in redactions_in_text(kept.segment)]
            corrected.append(row)
    if corrected:
        TranscriptSegment.objects.bulk_update(corrected, ["text", "words", "redactions"])
        if settings.TRANSCRIPT_STORE_UNREDACTED:
            UnredactedSegment.objects.bulk_create(originals, ignore_conflicts=True)
    fresh = redacted[len(context) :]
    rows = [
        _segment_row(transcript, seq, speaker, kept)
        for (speaker, seq, _segment), kept in zip(pending, fresh, strict=True)
    ]
    TranscriptSegment.objects.bulk_create(rows, ignore_conflicts=True)
    if settings.TRANSCRIPT_STORE_UNREDACTED and any(kept.changed for kept in fresh):
        # ignore_conflicts gives no keys: find the rows again by their sequence numbers.
        by_seq = {
            row.seq: row
            for row in TranscriptSegment.objects.filter(
                transcript=transcript, seq__in=[row.seq for row in rows]
            )
        }
        _unredacted_store([by_seq[row.seq] for row in rows], fresh)


def transcripts_redact_stored(*, batch: int = 200) -> tuple[int, int]:
    """Redact the transcripts stored before redaction (or under an older redactor) in place:
    each transcript's turns together, one transaction per transcript. Returns (transcripts
    changed, segments changed). The text taken out is kept only as for new transcripts."""
    changed_transcripts = changed_segments = 0
    for transcript_id in Transcript.objects.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            rows = list(
                TranscriptSegment.objects.select_for_update()
                .filter(transcript_id=transcript_id)
                .order_by("start", "seq")
            )
            redacted = transcript_redact([(row.speaker, _row_segment(row)) for row in rows])
            changed = [
                (row, kept) for row, kept in zip(rows, redacted, strict=True) if kept.changed
            ]
            if not changed:
                continue
            if settings.TRANSCRIPT_STORE_UNREDACTED:
                UnredactedSegment.objects.bulk_create(
                    [
                        UnredactedSegment(segment=row, text=row.text, words=row.words)
                        for row, _ in changed
                    ],
                    ignore_conflicts=True,
                )
            for row, kept in changed:
                row.text = kept.segment.text
                row.words = _words_json(kept.segment.words)
                row.redactions = [r.to_dict() for r in redactions_in_text(kept.segment)]
            TranscriptSegment.objects.bulk_update(
                [row for row, _ in changed], ["text", "words", "redactions"], batch_size=batch
            )
            changed_transcripts += 1
            changed_segments += len(changed)
    return changed_transcripts, changed_segments


def _row_segment(row: TranscriptSegment) -> Segment:
    return Segment(
        start=row.start,
        end=row.end,
        text=row.text,
        confidence=row.confidence,
        words=tuple(
            Word(start=w["start"], end=w["end"], text=w["text"], confidence=w.get("confidence"))
            for w in row.words or ()
        ),
    )


def live_transcript_lines(*, call_id: int) -> list[dict[str, Any]]:
    """The live finals so far, for a viewer who arrives mid-call."""
    segments = TranscriptSegment.objects.filter(
        transcript__call_id=call_id, transcript__kind=TranscriptKind.LIVE
    ).order_by("start", "seq")
    return [
        {
            "type": "transcript",
            "speaker": s.speaker,
            "text": s.text,
            "start": s.start,
            "end": s.end,
            "is_final": True,
            "seq": s.seq,
        }
        for s in segments
    ]


def live_transcripts_close(*, call_id: int) -> None:
    Transcript.objects.filter(
        call_id=call_id, kind=TranscriptKind.LIVE, status=TranscriptStatus.RUNNING
    ).update(status=TranscriptStatus.DONE, progress=1.0, completed_at=timezone.now())
