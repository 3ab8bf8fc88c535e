"""The call lifecycle: a call's row from its first stream to its end (or refusal).

The ingest writes through these only at a call's start and end and in periodic statistics
batches, never per frame. The core knows the product a call streams for only as plain values
(:class:`CallProduct`), not as the app that authenticates streams; what follows a call's end
(recording fingerprint, transcripts) is the apps' business, announced by ``call_finalized``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from ringadmin.calls.models import Call, CallStatus
from ringadmin.calls.signals import call_finalized
from ringadmin.storable import has_control_characters, storable_json, storable_text


@dataclass(frozen=True)
class CallProduct:
    """The RingCX product (queue or campaign) whose streaming profile authenticated a call's
    first socket: the call's product comes from it, never from the Start metadata (a stream
    may name any product there)."""

    product_type: str  # the code, e.g. "QUEUE"
    product_type_label: str  # what the call row shows, e.g. "Queue"
    product_id: int
    sub_account_id: str
    main_account_id: str
    rc_account_id: str


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


def _product_fields(product: CallProduct) -> dict[str, str]:
    return {
        "product_type": product.product_type_label,
        "product_id": str(product.product_id),
        "subaccount_id": product.sub_account_id,
        "account_id": product.main_account_id,
        "rc_account_id": product.rc_account_id,
    }


def call_belongs_to(*, call: Call, product: CallProduct) -> bool:
    """Is this call the product's? Its product is the one that authenticated its first socket.

    The row holds the type's label (``Queue``) and the product its code (``QUEUE``).
    """
    return (
        call.product_type.strip().upper() == product.product_type
        and call.product_id.strip() == str(product.product_id)
        and (not call.subaccount_id or call.subaccount_id == product.sub_account_id)
    )


@transaction.atomic
def call_start(
    *,
    ringcx_call_id: str,
    session_id: str,
    product: CallProduct,
    metadata: Mapping[str, Any],
    handshake: Mapping[str, Any],
    owner: str,
    recording_path: str,
    started_at: datetime | None = None,
    new_recording: bool = False,
) -> CallStartResult:
    """Create the call at Start, or mark it live again when a socket reconnects or a second
    perspective arrives on its own socket. ``new_recording``: the audio goes to a new file.

    Raises :class:`CallRefused` when the call belongs to another product or has ended for good
    (completed or rejected): nobody reopens those, or rewrites their metadata or recording.
    """
    problem = call_key_problem(ringcx_call_id=ringcx_call_id, session_id=session_id)
    if problem:
        raise CallRefused(problem)
    clean_metadata = storable_json(dict(metadata))[0]
    call, created = Call.objects.select_for_update().get_or_create(
        ringcx_call_id=ringcx_call_id,
        session_id=session_id,
        defaults={
            **_identifiers(clean_metadata),
            **_product_fields(product),
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
    if not call_belongs_to(call=call, product=product):
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
    """Close the call record and announce it (``call_finalized``, in this transaction): the
    apps queue their post-call work there, to run once the transaction commits."""
    call = Call.objects.select_for_update().get(pk=call_id)
    call.status = status
    call.ended_at = ended_at
    call.duration_seconds = duration_seconds
    call.stream_stats = stream_stats
    call.end_reason = storable_text(end_reason, 200)
    if stop_metadata:
        call.metadata = {**call.metadata, "stop": storable_json(dict(stop_metadata))[0]}
    call.save()
    call_finalized.send(sender=Call, call=call)
    return call


def call_reject(
    *,
    ringcx_call_id: str,
    session_id: str,
    product: CallProduct,
    metadata: Mapping[str, Any],
    handshake: Mapping[str, Any],
    reason: str,
) -> Call | None:
    """Record an authenticated stream we refused (e.g. unsupported audio), so admins see it.
    A call that already has a row (live, ended, or another product's) is left as it is."""
    if call_key_problem(ringcx_call_id=ringcx_call_id, session_id=session_id):
        return None
    now = timezone.now()
    clean_metadata = storable_json(dict(metadata))[0]
    call, created = Call.objects.get_or_create(
        ringcx_call_id=ringcx_call_id,
        session_id=session_id,
        defaults={
            **_identifiers(clean_metadata),
            **_product_fields(product),
            "status": CallStatus.REJECTED,
            "started_at": now,
            "ended_at": now,
            "end_reason": storable_text(reason, 200),
            "metadata": clean_metadata,
            "handshake": storable_json(dict(handshake))[0],
        },
    )
    return call if created else None
