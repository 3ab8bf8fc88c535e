"""Removing call content: retention's purge and data-subject requests (find, export, erase).

A call's content is its recording files, its analysis (with the waveform peaks) and its
transcripts. Removing it leaves the call row and its metadata, plus a tombstone
(``CallPurge``) and an audit entry. Calls under an active legal hold are never touched.

Order of removal: the database first (tombstone, analysis, transcripts, the call's
``recording_path``) in one transaction; the files after it commits, so a rollback never loses a
file the database still points at. A crash between the two leaves the tombstone's
``files_removed_at`` empty, and the next purge run deletes those files (a missing file is fine).
"""

from __future__ import annotations

import json
import logging
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from ringadmin.calls.models import Call, CallAnalysis, CallStatus
from ringadmin.compliance.audit import audit_record
from ringadmin.compliance.legal_holds import acting_user, call_is_held, calls_held
from ringadmin.compliance.models import AuditEventType, CallPurge, PurgeReason
from streaming.profiles.models import StreamingProfile
from streaming.transcription.models import Transcript

logger = logging.getLogger(__name__)

Actor = AbstractBaseUser | AnonymousUser | None
PHONE_RE = re.compile(r"^\+?[0-9]{3,20}$")


# --- Retention periods ------------------------------------------------------------------------


def retention_days_of(profile: StreamingProfile) -> int:
    """The profile's retention in days; 0 means the default (``RETENTION_DAYS_DEFAULT``)."""
    return profile.retention_days or settings.RETENTION_DAYS_DEFAULT


def _profile_calls(profile: StreamingProfile) -> Q:
    """The calls a profile streamed, as ``call_belongs_to`` decides (label vs code, sub-account
    blank or the profile's)."""
    return (
        Q(product_type__iexact=profile.product_type)
        & Q(product_id=str(profile.product_id))
        & (Q(subaccount_id="") | Q(subaccount_id=profile.sub_account_id))
    )


def calls_past_retention(*, now: datetime | None = None) -> QuerySet[Call]:
    """Ended calls older than their profile's retention (the default for calls of no current
    profile), not yet purged and not under legal hold, oldest first.

    The retention is read from the profile at purge time, so shortening or lengthening a
    profile's period applies to the calls it already recorded.
    """
    now = now or timezone.now()
    any_profile = Q(pk__in=[])
    due = Q(pk__in=[])
    for profile in StreamingProfile.objects.all():
        belongs = _profile_calls(profile)
        any_profile |= belongs
        due |= belongs & Q(started_at__lt=now - timedelta(days=retention_days_of(profile)))
    default_cutoff = now - timedelta(days=settings.RETENTION_DAYS_DEFAULT)
    due |= ~any_profile & Q(started_at__lt=default_cutoff)
    return (
        Call.objects.filter(due, purge__isnull=True)
        .exclude(status=CallStatus.LIVE)
        .exclude(pk__in=calls_held().values("pk"))
        .order_by("started_at", "pk")
    )


# --- Purging one call -------------------------------------------------------------------------


def _recording_paths(call: Call) -> list[str]:
    earlier = call.metadata.get("earlier_recordings", []) if isinstance(call.metadata, dict) else []
    paths = [p for p in earlier if isinstance(p, str) and p]
    if call.recording_path:
        paths.append(call.recording_path)
    return paths


def _file_inside_recordings(path_text: str) -> Path | None:
    """Only files under ``RECORDINGS_DIR`` are ever deleted (the paths come from the DB)."""
    path = Path(path_text).resolve()
    if not path.is_relative_to(Path(settings.RECORDINGS_DIR).resolve()):
        logger.warning("recording path outside RECORDINGS_DIR not deleted: %s", path_text)
        return None
    return path


def purge_files_remove(purge: CallPurge) -> None:
    """Delete a tombstone's files (a file already gone is fine), then mark them removed."""
    for path_text in purge.files:
        path = _file_inside_recordings(path_text)
        if path is not None:
            path.unlink(missing_ok=True)
    CallPurge.objects.filter(pk=purge.pk).update(files_removed_at=timezone.now())


class CallHeld(Exception):
    """The call is under legal hold: its content stays."""


class CallLive(Exception):
    """The call is still being recorded: its content cannot be removed yet."""


def call_content_purge(
    *, call_id: int, reason: PurgeReason, actor: Actor = None, note: str = ""
) -> CallPurge | None:
    """Remove one call's content and leave its tombstone; ``None`` if it was already purged.

    Raises :class:`CallHeld` when a legal hold covers the call (checked inside the
    transaction, so a hold set meanwhile wins), :class:`CallLive` while it is being recorded.
    """
    with transaction.atomic():
        call = Call.objects.select_for_update().get(pk=call_id)
        if CallPurge.objects.filter(call=call).exists():
            return None
        if call_is_held(call):
            raise CallHeld(f"call {call.pk} is under legal hold")
        if call.status == CallStatus.LIVE:
            raise CallLive(f"call {call.pk} is being recorded")
        transcripts = Transcript.objects.filter(call=call)
        removed: dict[str, Any] = {
            "recordings": len(_recording_paths(call)),
            "recording_bytes": (call.stream_stats.get("recording") or {}).get("file_bytes")
            if isinstance(call.stream_stats, dict)
            else None,
            "transcripts": transcripts.count(),
            "analysis": CallAnalysis.objects.filter(call=call).exists(),
        }
        files = _recording_paths(call)
        transcripts.delete()
        CallAnalysis.objects.filter(call=call).delete()
        call.recording_path = ""
        call.save(update_fields=["recording_path", "updated_at"])
        user = acting_user(actor)
        purge = CallPurge.objects.create(
            call=call,
            reason=reason,
            note=note,
            purged_at=timezone.now(),
            purged_by=user,
            purged_by_label=user.get_username() if user is not None else "system",
            removed=removed,
            files=files,
        )
        audit_record(
            event_type=(
                AuditEventType.RETENTION_PURGED
                if reason == PurgeReason.RETENTION
                else AuditEventType.DSR_ERASED
            ),
            actor=actor,
            target=call,
            call_id=call.pk,
            data={"reason": reason.value, "note": note, "removed": removed},
        )
    purge_files_remove(purge)
    return purge


@dataclass
class PurgeReport:
    purged: list[int] = field(default_factory=list)
    would_purge: list[int] = field(default_factory=list)
    held: list[int] = field(default_factory=list)
    files_retried: int = 0


def retention_purge(
    *, batch: int | None = None, dry_run: bool = False, now: datetime | None = None
) -> PurgeReport:
    """One batch of calls past retention: purged (or, in a dry run, only listed).

    Also finishes tombstones whose files were not yet deleted (a crash after the commit).
    Safe to run twice and concurrently: each call is locked and checked again.
    """
    batch = batch or settings.RETENTION_PURGE_BATCH
    report = PurgeReport()
    call_ids = list(calls_past_retention(now=now).values_list("pk", flat=True)[:batch])
    if dry_run:
        report.would_purge = call_ids
        return report
    for unfinished in CallPurge.objects.filter(files_removed_at__isnull=True)[:batch]:
        purge_files_remove(unfinished)
        report.files_retried += 1
    for call_id in call_ids:
        try:
            purge = call_content_purge(call_id=call_id, reason=PurgeReason.RETENTION)
        except CallHeld:
            report.held.append(call_id)
            continue
        except CallLive:  # became live again (a reconnect) since it was selected
            continue
        if purge is not None:
            report.purged.append(call_id)
    if report.purged:
        logger.info("retention purged %d calls", len(report.purged))
    return report


# --- Data-subject requests --------------------------------------------------------------------


class PhoneInvalid(ValueError):
    pass


def phone_normalize(value: str) -> str:
    """``+1 (555) 010-0199`` → ``+15550100199``; refuses anything but a phone number."""
    text = re.sub(r"[\s().-]", "", value or "")
    if not PHONE_RE.fullmatch(text):
        raise PhoneInvalid("a phone number is 3 to 20 digits, optionally after a +")
    return text


def dsr_calls(*, phone: str) -> QuerySet[Call]:
    """Every call with this number as caller (ANI) or dialled (DNIS), with or without '+'."""
    number = phone_normalize(phone)
    variants = {number, number.lstrip("+"), "+" + number.lstrip("+")}
    return (
        Call.objects.filter(Q(ani__in=variants) | Q(dnis__in=variants))
        .select_related("purge")
        .order_by("started_at", "pk")
    )


def dsr_find(*, phone: str) -> list[dict[str, Any]]:
    """One summary per call of the number: what is held, what was purged."""
    held = set(calls_held().values_list("pk", flat=True))
    rows = []
    for call in dsr_calls(phone=phone):
        purge = getattr(call, "purge", None)
        rows.append(
            {
                "call": call.pk,
                "ringcx_call_id": call.ringcx_call_id,
                "started_at": call.started_at.isoformat(),
                "ani": call.ani,
                "dnis": call.dnis,
                "has_recording": bool(call.recording_path),
                "transcripts": call.transcripts.count(),
                "legal_hold": call.pk in held,
                "purged": purge.reason if purge is not None else "",
            }
        )
    return rows


def _transcript_json_chunks(transcript: Transcript) -> Iterator[bytes]:
    """A transcript as JSON, one segment at a time (bounded memory for long calls)."""
    head = {
        "kind": transcript.kind,
        "engine": transcript.engine,
        "model": transcript.model,
        "status": transcript.status,
        "completed_at": transcript.completed_at.isoformat() if transcript.completed_at else None,
    }
    yield json.dumps(head)[:-1].encode() + b', "segments": ['
    for index, segment in enumerate(transcript.segments.order_by("start", "seq").iterator()):
        item = {
            "speaker": segment.speaker,
            "start": segment.start,
            "end": segment.end,
            "text": segment.text,
        }
        yield (b"," if index else b"") + json.dumps(item).encode()
    yield b"]}"


def dsr_export(*, phone: str, out: Path, actor: Actor = None) -> dict[str, Any]:
    """Every call of the number, recordings and transcripts, in one zip with a manifest.

    Written to disk entry by entry (recordings copied in blocks, transcripts segment by
    segment), so memory stays bounded whatever the number of calls. Returns the manifest.
    """
    manifest: dict[str, Any] = {
        "phone": phone_normalize(phone),
        "exported_at": timezone.now().isoformat(),
        "calls": [],
    }
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for call in dsr_calls(phone=phone).iterator():
            folder = f"calls/{call.pk}"
            entry: dict[str, Any] = {
                "call": call.pk,
                "ringcx_call_id": call.ringcx_call_id,
                "started_at": call.started_at.isoformat(),
                "ended_at": call.ended_at.isoformat() if call.ended_at else None,
                "ani": call.ani,
                "dnis": call.dnis,
                "agent_id": call.agent_id,
                "recordings": [],
                "transcripts": [],
                "purged": "",
            }
            purge = CallPurge.objects.filter(call=call).first()
            if purge is not None:
                entry["purged"] = f"{purge.reason} at {purge.purged_at.isoformat()}"
            for index, path_text in enumerate(_recording_paths(call)):
                path = _file_inside_recordings(path_text)
                if path is None or not path.is_file():
                    continue
                name = f"{folder}/recording-{index + 1}.wav"
                archive.write(path, name)  # copied in blocks by zipfile
                entry["recordings"].append(name)
            for transcript in call.transcripts.order_by("created_at", "pk"):
                name = f"{folder}/transcript-{transcript.pk}-{transcript.kind}.json"
                with archive.open(name, "w") as handle:
                    for chunk in _transcript_json_chunks(transcript):
                        handle.write(chunk)
                entry["transcripts"].append(name)
            manifest["calls"].append(entry)
        archive.writestr("manifest.json", json.dumps(manifest, indent=2))
    audit_record(
        event_type=AuditEventType.DSR_EXPORTED,
        actor=actor,
        data={"calls": [entry["call"] for entry in manifest["calls"]]},
    )
    return manifest


@dataclass
class ErasureReport:
    erased: list[int] = field(default_factory=list)
    already: list[int] = field(default_factory=list)
    held: list[int] = field(default_factory=list)
    live: list[int] = field(default_factory=list)


def dsr_erase(*, phone: str, reason: str = "", actor: Actor = None) -> ErasureReport:
    """Remove the content of every call of the number, except those under legal hold and those
    still being recorded (reported, kept: run it again after they end). Each erased call gets a
    tombstone and a ``dsr.erased`` audit entry."""
    report = ErasureReport()
    note = reason.strip() or "data-subject erasure request"
    for call_id in list(dsr_calls(phone=phone).values_list("pk", flat=True)):
        try:
            purge = call_content_purge(
                call_id=call_id, reason=PurgeReason.ERASURE, actor=actor, note=note
            )
        except CallHeld:
            report.held.append(call_id)
            continue
        except CallLive:
            report.live.append(call_id)
            continue
        (report.erased if purge is not None else report.already).append(call_id)
    return report
