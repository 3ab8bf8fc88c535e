"""Writes and reads of streaming profiles, and the Django side of the ingest (call records).

The ingest socket calls these only at a call's start and end, for the handshake log, and in
periodic batches: never per frame.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import models, transaction
from django.utils import timezone

from ringadmin.calls.models import Call, CallStatus
from ringadmin.compliance.audit import audit_record
from ringadmin.compliance.models import AuditEventType
from ringadmin.storable import has_control_characters, storable_json, storable_text
from streaming.models import (
    HandshakeOutcome,
    IngestHandshake,
    ProductType,
    StreamingProfile,
)
from streaming.sync import streaming_profile_delete_request, streaming_profile_sync_request

logger = logging.getLogger(__name__)

SECRET_BYTES = 32
PREVIOUS_SECRET_GRACE = timedelta(minutes=15)


def streaming_secret_generate() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def product_type_normalize(value: str | None) -> str | None:
    """``Queue``/``queue``/``QUEUE`` → ``QUEUE``; anything else → ``None``."""
    if not value:
        return None
    upper = str(value).strip().upper()
    return upper if upper in ProductType.values else None


@transaction.atomic
def streaming_profile_create(
    *,
    product_type: str,
    product_id: int,
    sub_account_id: str,
    main_account_id: str,
    rc_account_id: str,
    streaming_url: str,
    secret: str | None = None,
    with_secret: bool = True,
    enabled: bool = True,
    retention_days: int = 365,
    notes: str = "",
    actor: AbstractBaseUser | None = None,
) -> StreamingProfile:
    """Create a validated profile. A secret is generated unless one is given or refused."""
    profile = StreamingProfile(
        product_type=product_type_normalize(product_type) or product_type,
        product_id=product_id,
        sub_account_id=str(sub_account_id),
        main_account_id=str(main_account_id),
        rc_account_id=str(rc_account_id),
        streaming_url=streaming_url,
        secret=(secret or streaming_secret_generate()) if with_secret else "",
        enabled=enabled,
        retention_days=retention_days,
        notes=notes,
    )
    profile.full_clean()
    profile.save()
    _profile_changed(profile=profile, event=AuditEventType.PROFILE_CREATED, actor=actor)
    return profile


@transaction.atomic
def streaming_profile_update(
    *, profile: StreamingProfile, changed_fields: Iterable[str], actor: AbstractBaseUser | None
) -> StreamingProfile:
    """Validate and save an edited profile (admin form), auditing which fields changed.

    Only the edited fields are written, so a secret rotated meanwhile is never put back.
    """
    profile.full_clean()
    editable = {f.name for f in StreamingProfile._meta.fields if f.editable}
    fields = sorted(set(changed_fields) & editable)
    profile.save(update_fields=[*fields, "updated_at"] if fields else None)
    _profile_changed(
        profile=profile,
        event=AuditEventType.PROFILE_CHANGED,
        actor=actor,
        extra={"changed": sorted(changed_fields)},
    )
    return profile


@transaction.atomic
def streaming_profile_rotate_secret(
    *, profile: StreamingProfile, actor: AbstractBaseUser | None = None
) -> str:
    """Issue a new secret. The old one keeps working for a short grace period, so calls that
    RingCX starts before it learns the new secret are not refused."""
    profile = StreamingProfile.objects.select_for_update().get(pk=profile.pk)
    now = timezone.now()
    new_secret = streaming_secret_generate()
    profile.previous_secret = profile.secret
    profile.previous_secret_valid_until = now + PREVIOUS_SECRET_GRACE if profile.secret else None
    profile.secret = new_secret
    profile.secret_rotated_at = now
    profile.save(
        update_fields=[
            "secret",
            "previous_secret",
            "previous_secret_valid_until",
            "secret_rotated_at",
            "updated_at",
        ]
    )
    _profile_changed(profile=profile, event=AuditEventType.PROFILE_SECRET_ROTATED, actor=actor)
    return new_secret


@transaction.atomic
def streaming_profile_disable(
    *, profile: StreamingProfile, actor: AbstractBaseUser | None = None
) -> StreamingProfile:
    profile.enabled = False
    profile.save(update_fields=["enabled", "updated_at"])
    _profile_changed(profile=profile, event=AuditEventType.PROFILE_DISABLED, actor=actor)
    return profile


@transaction.atomic
def streaming_profile_delete(
    *, profile: StreamingProfile, actor: AbstractBaseUser | None = None
) -> None:
    """Delete the profile, audited, and remove it from RingCX once the deletion commits."""
    audit_record(
        event_type=AuditEventType.PROFILE_DELETED,
        actor=actor,
        target=profile,
        data=_profile_audit_data(profile),
    )
    streaming_profile_delete_request(profile=profile)
    profile.delete()


def _profile_changed(
    *,
    profile: StreamingProfile,
    event: AuditEventType,
    actor: AbstractBaseUser | None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Every change RingCX must learn: audited in this transaction, pushed after commit."""
    audit_record(
        event_type=event,
        actor=actor,
        target=profile,
        data={**(extra or {}), **_profile_audit_data(profile)},
    )
    streaming_profile_sync_request(profile=profile)


def _profile_audit_data(profile: StreamingProfile) -> dict[str, Any]:
    return {
        "product_type": profile.product_type,
        "product_id": profile.product_id,
        "sub_account_id": profile.sub_account_id,
        "streaming_url": profile.streaming_url,
        "enabled": profile.enabled,
    }


def streaming_profile_find(
    *, product_type: str | None, product_id: str | int | None, sub_account_id: str | None = None
) -> StreamingProfile | None:
    """The profile for a product (and sub-account when known); ``None`` if none or ambiguous."""
    normalized = product_type_normalize(product_type)
    if normalized is None or product_id in (None, ""):
        return None
    try:
        product_id_int = int(str(product_id).strip())
    except ValueError:
        return None
    profiles = StreamingProfile.objects.filter(product_type=normalized, product_id=product_id_int)
    if sub_account_id:
        profiles = profiles.filter(sub_account_id=str(sub_account_id))
    found = list(profiles[:2])
    return found[0] if len(found) == 1 else None


def streaming_secret_matches(*, profile: StreamingProfile, presented: str | None) -> bool:
    """Constant-time comparison with the current secret, or the previous one in its grace."""
    if not profile.secret:
        return True
    if not presented:
        return False
    presented_bytes = presented.encode()
    if hmac.compare_digest(presented_bytes, profile.secret.encode()):
        return True
    return bool(
        profile.previous_secret
        and profile.previous_secret_valid_until
        and profile.previous_secret_valid_until > timezone.now()
        and hmac.compare_digest(presented_bytes, profile.previous_secret.encode())
    )


# --- Handshake log ---------------------------------------------------------------------------


def ingest_handshake_log(
    *,
    client: str,
    path: str,
    query_params: Mapping[str, Any],
    header_names: list[str],
    secret_source: str,
    outcome: HandshakeOutcome,
    status_code: int | None,
    reason: str,
    profile: StreamingProfile | None = None,
    ringcx_call_id: str = "",
) -> IngestHandshake:
    """Record one handshake and keep only the most recent ``KEEP_LAST``. Everything in it came
    from outside: it is cleaned and bounded first (secrets masked)."""
    entry = IngestHandshake.objects.create(
        client=storable_text(client, 100),
        path=storable_text(path, 300),
        query_params=storable_json(dict(query_params))[0],
        header_names=storable_json(list(header_names))[0],
        secret_source=storable_text(secret_source, 40),
        outcome=outcome,
        status_code=status_code,
        reason=storable_text(reason, 300),
        profile=profile,
        ringcx_call_id=storable_text(ringcx_call_id, 64),
    )
    if entry.pk % 20 == 0:  # trim now and then, not on every insert
        cutoff = (
            IngestHandshake.objects.order_by("-id")
            .values_list("id", flat=True)[IngestHandshake.KEEP_LAST - 1 : IngestHandshake.KEEP_LAST]
            .first()
        )
        if cutoff is not None:
            IngestHandshake.objects.filter(id__lt=cutoff).delete()
    return entry


# --- Calls ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallStartResult:
    call: Call
    resumed: bool
    earlier_stats: dict[str, Any] | None = None  # what the call's earlier recordings held


class CallRefused(Exception):
    """The stream may not write into this call (another profile's, or already ended)."""


CALL_FIELDS_FROM_METADATA = {
    "ani": "ani",
    "dnis": "dnis",
    "agentId": "agent_id",
}
# Where a call's product comes from: the profile that authenticated its first socket, never the
# Start metadata (a stream may name any product there).
ENDED_FOR_GOOD = (CallStatus.COMPLETED, CallStatus.REJECTED)
MAX_RECORDINGS_PER_CALL = 20  # a call coming back after its grace starts a new one each time


def call_key_problem(*, ringcx_call_id: str, session_id: str) -> str | None:
    """Why a call id or session id cannot be stored whole (a close reason), or None. A cut id
    would merge two calls into one row, so it is refused instead."""
    for name, value, field in (
        ("callId", ringcx_call_id, "ringcx_call_id"),
        ("sessionId", session_id, "session_id"),
    ):
        limit = _max_length(field)
        if len(value) > limit:
            return f"{name} longer than {limit} characters"
        if has_control_characters(value):
            return f"{name} contains control characters"
    return None


def _max_length(name: str) -> int:
    """The length limit of one of Call's text columns."""
    field = Call._meta.get_field(name)
    assert isinstance(field, models.CharField)
    assert field.max_length is not None
    return field.max_length


def _identifiers(metadata: Mapping[str, Any]) -> dict[str, str]:
    """ANI, DNIS and agent id for their columns; one that does not fit is left blank (never
    cut: a cut id could match another's) and stays whole in the metadata."""
    values = {}
    for key, field in CALL_FIELDS_FROM_METADATA.items():
        value = metadata.get(key)
        if isinstance(value, bool) or not isinstance(value, str | int):
            values[field] = ""
            continue
        text = str(value).strip()
        limit = _max_length(field)
        values[field] = "" if len(text) > limit or has_control_characters(text) else text
    return values


def _profile_fields(profile: StreamingProfile) -> dict[str, str]:
    return {
        "product_type": profile.get_product_type_display(),
        "product_id": str(profile.product_id),
        "subaccount_id": profile.sub_account_id,
        "account_id": profile.main_account_id,
        "rc_account_id": profile.rc_account_id,
    }


def call_belongs_to(*, call: Call, profile: StreamingProfile) -> bool:
    """Is this call the profile's? Its product is the one that authenticated its first socket."""
    return (
        product_type_normalize(call.product_type) == profile.product_type
        and call.product_id.strip() == str(profile.product_id)
        and (not call.subaccount_id or call.subaccount_id == profile.sub_account_id)
    )


@transaction.atomic
def call_start(
    *,
    ringcx_call_id: str,
    session_id: str,
    profile_id: int,
    metadata: Mapping[str, Any],
    handshake: Mapping[str, Any],
    owner: str,
    recording_path: str,
    started_at: datetime | None = None,
    new_recording: bool = False,
) -> CallStartResult:
    """Create the call at Start, or mark it live again when a socket reconnects or a second
    perspective arrives on its own socket. ``new_recording``: the audio goes to a new file.

    Raises :class:`CallRefused` when the call belongs to another profile or has ended for good
    (completed or rejected): nobody reopens those, or rewrites their metadata or recording.
    """
    problem = call_key_problem(ringcx_call_id=ringcx_call_id, session_id=session_id)
    if problem:
        raise CallRefused(problem)
    profile = StreamingProfile.objects.filter(pk=profile_id).first()
    if profile is None:
        raise CallRefused("the streaming profile no longer exists")
    clean_metadata = storable_json(dict(metadata))[0]
    call, created = Call.objects.select_for_update().get_or_create(
        ringcx_call_id=ringcx_call_id,
        session_id=session_id,
        defaults={
            **_identifiers(clean_metadata),
            **_profile_fields(profile),
            "started_at": started_at or timezone.now(),
            "status": CallStatus.LIVE,
            "metadata": clean_metadata,
            "handshake": storable_json(dict(handshake))[0],
            "recording_path": recording_path,
            "ingest_owner": owner,
        },
    )
    if created:
        return CallStartResult(call=call, resumed=False)
    if call.status in ENDED_FOR_GOOD:
        raise CallRefused(f"call already {call.status}: it is never reopened")
    if not call_belongs_to(call=call, profile=profile):
        raise CallRefused("the call belongs to another streaming profile")
    # The same call again: keep its recording and what it said first; fill what was missing.
    for field, value in _identifiers(clean_metadata).items():
        if value and not getattr(call, field):
            setattr(call, field, value)
    call.metadata = {**clean_metadata, **call.metadata}
    earlier_stats = None
    call.status = CallStatus.LIVE
    call.ended_at = None
    call.ingest_owner = owner
    if not call.recording_path:
        call.recording_path = recording_path
    elif new_recording and call.recording_path != recording_path:
        # The call came back after its process ended: its audio continues in a new file;
        # the earlier one stays listed with the call, and its statistics count on.
        earlier = list(call.metadata.get("earlier_recordings", []))
        if len(earlier) + 1 >= MAX_RECORDINGS_PER_CALL:
            raise CallRefused(f"the call already has {MAX_RECORDINGS_PER_CALL} recordings")
        call.metadata = {**call.metadata, "earlier_recordings": [*earlier, call.recording_path]}
        call.recording_path = recording_path
        earlier_stats = call.stream_stats or None
    call.save()
    return CallStartResult(call=call, resumed=True, earlier_stats=earlier_stats)


def call_stats_update_many(*, stats_by_call: Mapping[int, dict[str, Any]]) -> None:
    """One batch of live calls' stream statistics (periodic, not per frame).

    Each row is updated only while it is still live, checked at write time: a batch taken just
    before a call ended must never overwrite that call's final statistics.
    """
    if not stats_by_call:
        return
    now = timezone.now()
    with transaction.atomic():
        for call_id, stats in stats_by_call.items():
            # updated_at doubles as the heartbeat recovery uses for calls of other hosts
            Call.objects.filter(pk=call_id, status=CallStatus.LIVE).update(
                stream_stats=stats, updated_at=now
            )


@transaction.atomic
def call_finalize(
    *,
    call_id: int,
    status: CallStatus,
    ended_at: datetime,
    duration_seconds: float | None,
    stream_stats: dict[str, Any],
    end_reason: str,
    stop_metadata: Mapping[str, Any] | None = None,
) -> Call:
    """Close the call record and enqueue its post-call work once the transaction commits."""
    from streaming.tasks import call_postprocess

    call = Call.objects.select_for_update().get(pk=call_id)
    call.status = status
    call.ended_at = ended_at
    call.duration_seconds = duration_seconds
    call.stream_stats = stream_stats
    call.end_reason = storable_text(end_reason, 200)
    if stop_metadata:
        call.metadata = {**call.metadata, "stop": storable_json(dict(stop_metadata))[0]}
    call.save()
    call_postprocess.delay_on_commit(call.pk)
    _transcription_after_call(call)
    return call


def _transcription_after_call(call: Call) -> None:
    """Close the live transcript and queue the post-call one; a transcription problem never
    stops a call from being finalized."""
    from streaming.transcription.engines.base import TranscriptionError
    from streaming.transcription.services import live_transcripts_close, transcription_enqueue

    live_transcripts_close(call_id=call.pk)
    try:
        transcription_enqueue(call=call)
    except TranscriptionError as exc:
        logger.warning("call %s will not be transcribed: %s", call.pk, exc)


def call_reject(
    *,
    ringcx_call_id: str,
    session_id: str,
    profile_id: int,
    metadata: Mapping[str, Any],
    handshake: Mapping[str, Any],
    reason: str,
) -> Call | None:
    """Record an authenticated stream we refused (e.g. unsupported audio), so admins see it.
    A call that already has a row (live, ended, or another profile's) is left as it is."""
    profile = StreamingProfile.objects.filter(pk=profile_id).first()
    if profile is None or call_key_problem(ringcx_call_id=ringcx_call_id, session_id=session_id):
        return None
    now = timezone.now()
    clean_metadata = storable_json(dict(metadata))[0]
    call, created = Call.objects.get_or_create(
        ringcx_call_id=ringcx_call_id,
        session_id=session_id,
        defaults={
            **_identifiers(clean_metadata),
            **_profile_fields(profile),
            "status": CallStatus.REJECTED,
            "started_at": now,
            "ended_at": now,
            "end_reason": storable_text(reason, 200),
            "metadata": clean_metadata,
            "handshake": storable_json(dict(handshake))[0],
        },
    )
    return call if created else None
