"""Consent notices and per-call consent records: the services (writes) and the one answer
other features ask ("may this call be monitored / recorded / transcribed?").

The ingest calls :func:`consent_record_at_call_start` in the transaction that creates the call,
once, at Start. Post-call transcription hands the agent channel's lines to
:func:`consent_verify_in_transcript`, which looks for the notice's key phrase in its window.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from ringadmin.calls.models import Call
from ringadmin.compliance.audit import audit_record
from ringadmin.compliance.consent_models import (
    ConsentGivenBy,
    ConsentMethod,
    ConsentNotice,
    ConsentNoticeSeries,
    ConsentOutcome,
    ConsentRecord,
    ConsentVerification,
    NoticeKind,
    NoticeStatus,
)
from ringadmin.compliance.models import AuditEventType

User = AbstractBaseUser | AnonymousUser | None

# --- notices ---------------------------------------------------------------------------------


class NoticeError(ValueError):
    """A notice change that is not allowed (shown to the admin as is)."""


@transaction.atomic
def notice_draft(
    *,
    series: ConsentNoticeSeries,
    kind: str,
    text: str,
    effective_from: datetime,
    key_phrase: str = "",
    window_seconds: int = 30,
    language: str = "en",
    jurisdiction_note: str = "",
    effective_to: datetime | None = None,
    actor: User = None,
) -> ConsentNotice:
    """A new draft version of a series, numbered after every existing version."""
    NoticeKind(kind)
    if effective_to is not None and effective_to <= effective_from:
        raise NoticeError("effective to must be after effective from")
    ConsentNoticeSeries.objects.select_for_update().get(pk=series.pk)
    last = series.versions.aggregate(last=Max("version"))["last"] or 0
    notice = ConsentNotice.objects.create(
        series=series,
        version=last + 1,
        kind=kind,
        text=text,
        key_phrase=key_phrase,
        window_seconds=window_seconds,
        language=language,
        jurisdiction_note=jurisdiction_note,
        effective_from=effective_from,
        effective_to=effective_to,
    )
    audit_record(
        event_type=AuditEventType.CONSENT_NOTICE_DRAFTED,
        actor=actor,
        target=notice,
        data={"series": series.key, "version": notice.version},
    )
    return notice


@transaction.atomic
def notice_publish(*, notice: ConsentNotice, actor: User = None) -> ConsentNotice:
    """Publish a draft: from now on it is read-only, and calls starting in its effective
    period under its series get it (the highest published version wins)."""
    locked = ConsentNotice.objects.select_for_update().get(pk=notice.pk)
    if locked.status != NoticeStatus.DRAFT:
        raise NoticeError(f"version {locked.version} is already {locked.status}")
    if locked.kind in SPOKEN_KINDS and not locked.key_phrase.strip():
        raise NoticeError("a spoken notice needs a key phrase to verify it in the audio")
    now = timezone.now()
    ConsentNotice.objects.filter(pk=locked.pk).update(
        status=NoticeStatus.PUBLISHED,
        published_at=now,
        published_by=actor if actor is not None and actor.is_authenticated else None,
    )
    locked.refresh_from_db()
    audit_record(
        event_type=AuditEventType.CONSENT_NOTICE_PUBLISHED,
        actor=actor,
        target=locked,
        data={
            "series": locked.series.key,
            "version": locked.version,
            "kind": locked.kind,
            "text": locked.text,
            "key_phrase": locked.key_phrase,
        },
    )
    return locked


@transaction.atomic
def notice_retire(*, notice: ConsentNotice, actor: User = None) -> ConsentNotice:
    """Stop applying a published version to new calls; its words stay readable."""
    locked = ConsentNotice.objects.select_for_update().get(pk=notice.pk)
    if locked.status != NoticeStatus.PUBLISHED:
        raise NoticeError(f"only a published version can be retired (this one is {locked.status})")
    ConsentNotice.objects.filter(pk=locked.pk).update(
        status=NoticeStatus.RETIRED, retired_at=timezone.now()
    )
    locked.refresh_from_db()
    audit_record(
        event_type=AuditEventType.CONSENT_NOTICE_RETIRED,
        actor=actor,
        target=locked,
        data={"series": locked.series.key, "version": locked.version},
    )
    return locked


def notice_in_force(*, series_id: int | None, at: datetime) -> ConsentNotice | None:
    """The published version of a series in force at ``at``: the highest version whose
    effective period contains it."""
    if series_id is None:
        return None
    return (
        ConsentNotice.objects.filter(
            series_id=series_id, status=NoticeStatus.PUBLISHED, effective_from__lte=at
        )
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gt=at))
        .order_by("-version")
        .first()
    )


# --- records at call start -------------------------------------------------------------------

SPOKEN_KINDS = (NoticeKind.ANNOUNCEMENT, NoticeKind.VERBAL_CONSENT)
_METHOD_BY_KIND = {
    NoticeKind.ANNOUNCEMENT: (ConsentMethod.ANNOUNCEMENT, ConsentGivenBy.SYSTEM),
    NoticeKind.BEEP: (ConsentMethod.BEEP, ConsentGivenBy.SYSTEM),
    NoticeKind.VERBAL_CONSENT: (ConsentMethod.VERBAL_CONSENT, ConsentGivenBy.AGENT),
    NoticeKind.WRITTEN_IVR: (ConsentMethod.WRITTEN_IVR, ConsentGivenBy.IVR),
}


def consent_record_at_call_start(*, call: Call, notice_series_id: int | None) -> ConsentRecord:
    """The call's consent record, written once: a reconnect or resumed call keeps the first.

    One small insert in the Start transaction, never per frame. A call whose profile names no
    series, or whose series has no version in force, is recorded as ``no notice``.
    """
    existing = ConsentRecord.objects.filter(call=call).first()
    if existing is not None:
        return existing
    notice = notice_in_force(series_id=notice_series_id, at=call.started_at)
    if notice is None:
        fields: dict[str, Any] = {
            "method": ConsentMethod.NONE,
            "outcome": ConsentOutcome.NO_NOTICE,
            "verification": ConsentVerification.NOT_CHECKED,
        }
    else:
        method, given_by = _METHOD_BY_KIND[NoticeKind(notice.kind)]
        at_start = notice.kind in (NoticeKind.ANNOUNCEMENT, NoticeKind.BEEP)
        fields = {
            "notice": notice,
            "method": method,
            "given_by": given_by,
            "given_at": call.started_at,
            "recording_offset_seconds": 0.0 if at_start else None,
            "outcome": ConsentOutcome.NOTICE_GIVEN,
        }
    record, _ = ConsentRecord.objects.get_or_create(call=call, defaults=fields)
    return record


# --- verification in the audio ---------------------------------------------------------------

# A spoken phrase counts as heard when some window of the agent's words, as long as the phrase
# (give or take one word), matches it with difflib's ratio >= this: tolerant to a misheard word
# or two in a ten-word phrase, not to a different sentence.
MATCH_THRESHOLD = 0.8
_WORD_RE = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


def normalized_words(text: str) -> list[str]:
    """Lower-case words without accents or punctuation."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return _WORD_RE.findall(folded)


@dataclass(frozen=True)
class PhraseMatch:
    score: float
    start: float | None  # seconds into the recording of the best window's line


def phrase_best_match(
    *, phrase: str, lines: Iterable[tuple[float, float, str]], window_seconds: float
) -> PhraseMatch:
    """Best fuzzy match of ``phrase`` among the words of the lines starting within the window."""
    wanted = normalized_words(phrase)
    if not wanted:
        return PhraseMatch(0.0, None)
    words: list[tuple[str, float]] = []
    for start, _end, text in sorted(lines, key=lambda line: line[0]):
        if start > window_seconds:
            break
        words.extend((word, start) for word in normalized_words(text))
    target = " ".join(wanted)
    best = PhraseMatch(0.0, None)
    for size in {max(1, len(wanted) - 1), len(wanted), len(wanted) + 1}:
        for index in range(max(1, len(words) - size + 1)):
            window = words[index : index + size]
            if not window:
                continue
            score = difflib.SequenceMatcher(None, target, " ".join(w for w, _ in window)).ratio()
            if score > best.score:
                best = PhraseMatch(score, window[0][1])
    return best


@transaction.atomic
def consent_verify_in_transcript(
    *, call_id: int, agent_lines: Iterable[tuple[float, float, str]]
) -> ConsentRecord | None:
    """Record whether the notice's key phrase is in the first N seconds of the agent channel.

    ``agent_lines``: (start, end, text) of the agent's transcript lines. Notices that are not
    spoken (beep, written/IVR) stay ``not checked``.
    """
    record = (
        ConsentRecord.objects.select_for_update(of=("self",))
        .select_related("notice")
        .filter(call_id=call_id)
        .first()
    )
    if record is None or record.notice is None or record.notice.kind not in SPOKEN_KINDS:
        return record
    match = phrase_best_match(
        phrase=record.notice.key_phrase,
        lines=agent_lines,
        window_seconds=record.notice.window_seconds,
    )
    found = match.score >= MATCH_THRESHOLD
    record.verification = ConsentVerification.VERIFIED if found else ConsentVerification.NOT_FOUND
    record.verification_score = round(match.score, 3)
    record.verified_at = timezone.now()
    if found and match.start is not None:
        record.recording_offset_seconds = match.start
    record.save(
        update_fields=[
            "verification",
            "verification_score",
            "verified_at",
            "recording_offset_seconds",
        ]
    )
    return record


def consent_mark_no_transcript(*, call_id: int) -> None:
    """A spoken notice that cannot be checked because the call has no transcript."""
    ConsentRecord.objects.filter(
        call_id=call_id,
        notice__kind__in=SPOKEN_KINDS,
        verification=ConsentVerification.NOT_CHECKED,
    ).update(verification=ConsentVerification.NO_TRANSCRIPT)


# --- the answer other features ask -----------------------------------------------------------


class ConsentPurpose(StrEnum):
    MONITOR = "monitor"
    RECORD = "record"
    TRANSCRIBE = "transcribe"


@dataclass(frozen=True)
class ConsentDecision:
    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


def consent_allows(*, call: Call, purpose: ConsentPurpose | str) -> ConsentDecision:
    """May this call be monitored, recorded or transcribed? All-party rule: only when a notice
    was given and the audio does not contradict it (a key phrase checked and not found)."""
    purpose = ConsentPurpose(purpose)
    record = ConsentRecord.objects.filter(call_id=call.pk).select_related("notice").first()
    if record is None:
        return ConsentDecision(False, "no consent record for this call")
    if record.outcome != ConsentOutcome.NOTICE_GIVEN:
        return ConsentDecision(False, "no notice was given (all-party consent required)")
    if record.verification == ConsentVerification.NOT_FOUND:
        return ConsentDecision(False, "the notice's key phrase was not found in the audio")
    return ConsentDecision(True, f"{record.get_method_display()} given; {purpose} allowed")
