"""The one way to write to the audit trail, and the check that it was not tampered with.

Each entry's hash is an HMAC over the previous entry's hash and the entry's own canonical
content, so changing, deleting, inserting or reordering any entry breaks the chain there.
Verification is incremental: a signed ``AuditVerification`` row remembers how far the chain
was verified, and pages check only the entries written since (``audit_verify --full`` walks
everything).
"""

from __future__ import annotations

import contextvars
import copy
import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Protocol, cast

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import connection, models, transaction
from django.utils import timezone

from ringadmin.compliance.models import (
    USER_AGENT_MAX,
    AuditEvent,
    AuditEventType,
    AuditVerification,
)
from ringadmin.logging import REDACTED, is_secret_name, redact_mapping
from ringadmin.storable import storable_text

GENESIS_HASH = "0" * 64
_ADVISORY_LOCK_KEY = 0x52494E47  # "RING": serialises appends on PostgreSQL
SYSTEM = "system"
# (address, User-Agent) of the request being served; set by AuditClientMiddleware.
audit_client_var: contextvars.ContextVar[tuple[str | None, str]] = contextvars.ContextVar(
    "audit_client", default=(None, "")
)


class HasMeta(Protocol):
    """A Django or REST framework request: all the audit reads of it is ``META``."""

    META: Any


def request_client(request: HasMeta | None) -> tuple[str | None, str]:
    """The client's address (set by the server from the socket) and its User-Agent, shortened
    and made storable, for the audit entry of what the request did."""
    if request is None:
        return None, ""
    meta = request.META
    user_agent = storable_text(str(meta.get("HTTP_USER_AGENT", "")), USER_AGENT_MAX)
    return meta.get("REMOTE_ADDR") or None, user_agent


def _canonical(entry: AuditEvent) -> bytes:
    content = {
        "sequence": entry.sequence,
        "occurred_at": entry.occurred_at.astimezone(UTC).isoformat(),
        "event_type": entry.event_type,
        "actor_id": entry.actor_id,
        "actor_label": entry.actor_label,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "call_id": entry.call_id,
        "ip_address": entry.ip_address,
        "data": entry.data,
    }
    if entry.user_agent:  # absent from entries written before it existed: their hashes hold
        content["user_agent"] = entry.user_agent
    return json.dumps(content, sort_keys=True, separators=(",", ":"), default=str).encode()


def _entry_hash(prev_hash: str, entry: AuditEvent) -> str:
    key = settings.AUDIT_HMAC_KEY.encode()
    return hmac.new(key, prev_hash.encode() + _canonical(entry), hashlib.sha256).hexdigest()


def audit_changes(
    before: dict[str, Any], after: dict[str, Any], fields: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """``{field: {"old": ..., "new": ...}}`` for each field whose value changed; the values of
    secret-named fields are masked (a change to a secret is recorded, never the secret)."""
    changes: dict[str, dict[str, Any]] = {}
    for field in sorted(fields):
        old, new = before.get(field), after.get(field)
        if old == new:
            continue
        if is_secret_name(field):
            changes[field] = {"old": REDACTED if old else "", "new": REDACTED if new else ""}
        else:
            changes[field] = {"old": _jsonable(old), "new": _jsonable(new)}
    return changes


def _jsonable(value: Any) -> Any:
    return value if value is None or isinstance(value, bool | int | float | str) else str(value)


def audit_record(
    *,
    event_type: AuditEventType | str,
    actor: AbstractBaseUser | AnonymousUser | None = None,
    target: models.Model | None = None,
    call_id: int | None = None,
    data: dict[str, Any] | None = None,
    ip_address: str | None = None,
    request: HasMeta | None = None,
    nobody_label: str = SYSTEM,
) -> AuditEvent:
    """Append one entry. Call it inside the transaction of the change it records.

    ``request`` gives the client's address and User-Agent; without it they are those of the
    request being served, if any (``AuditClientMiddleware``), so services need not pass them.
    ``nobody_label`` names the actor when nobody is signed in: "system" for the application's
    own work, "" for a stranger.
    """
    event_type = AuditEventType(event_type)
    request_ip, user_agent = (
        request_client(request) if request is not None else audit_client_var.get()
    )
    signed_in = actor is not None and actor.is_authenticated
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])
        last = AuditEvent.objects.order_by("-sequence").values("sequence", "entry_hash").first()
        entry = AuditEvent(
            sequence=(last["sequence"] + 1) if last else 1,
            occurred_at=timezone.now(),
            event_type=event_type.value,
            # A signed-in user is always an instance of AUTH_USER_MODEL, the key's model.
            actor=cast(User, actor) if signed_in else None,
            actor_label=actor.get_username() if actor is not None and signed_in else nobody_label,
            target_type=target._meta.label_lower if target is not None else "",
            target_id=str(target.pk) if target is not None else "",
            call_id=call_id,
            ip_address=ip_address or request_ip,
            user_agent=user_agent,
            data=redact_mapping(data or {}),
        )
        entry.prev_hash = last["entry_hash"] if last else GENESIS_HASH
        entry.entry_hash = _entry_hash(entry.prev_hash, entry)
        entry.save()
        return entry


# --- verification ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    checked: int
    first_bad_sequence: int | None = None
    reason: str = ""
    problem: str = ""  # edited, deleted, inserted, reordered, truncated, resigned, checkpoint
    verified_through: int = 0


def _valid_as(entry: AuditEvent, sequence: int, prev_hash: str) -> bool:
    """Would ``entry`` be intact had it been written at ``sequence`` after ``prev_hash``?"""
    moved = copy.copy(entry)
    moved.sequence = sequence
    return _entry_hash(prev_hash, moved) == entry.entry_hash


_SEARCH = 50  # how far from its place an entry moved is looked for


def _written_at(entry: AuditEvent) -> int | None:
    """The place ``entry`` was written at, if it is intact for a place near its current one."""
    low, high = max(1, entry.sequence - _SEARCH), entry.sequence + _SEARCH
    for sequence in range(low, high + 1):
        if sequence != entry.sequence and _valid_as(entry, sequence, entry.prev_hash):
            return sequence
    return None


def _explain(entry: AuditEvent, prev_hash: str, checked: int) -> ChainCheck:
    """Name what happened at the first entry that does not fit, from its neighbours: an entry
    intact for another place whose predecessor is still here was moved (reordered); an entry
    the chain skips, its successor fitting its place, was inserted; an entry intact for the
    next place whose predecessor is gone says its predecessor was deleted (and the later
    entries renumbered); anything else was edited."""
    seq = entry.sequence

    def found(reason: str, problem: str) -> ChainCheck:
        return ChainCheck(False, checked, seq, reason, problem)

    if entry.prev_hash != prev_hash:
        original = _written_at(entry)
        predecessor_kept = AuditEvent.objects.filter(entry_hash=entry.prev_hash).exists()
        if original is not None and predecessor_kept:
            return found(
                f"entry #{seq} was written as entry #{original}: entries reordered", "reordered"
            )
        if original is not None:
            return found(
                f"the original entry #{seq} was deleted and later entries renumbered", "deleted"
            )
    following = AuditEvent.objects.filter(sequence=seq + 1).first()
    if (
        following is not None
        and following.prev_hash == prev_hash
        and _valid_as(following, seq, prev_hash)
    ):
        return found(f"entry #{seq} is not part of the chain: an entry was inserted", "inserted")
    return found(
        f"entry #{seq} does not match its hash: it was edited (or written without the key)",
        "edited",
    )


def _walk(entries: Iterable[AuditEvent], *, prev_hash: str, expected_sequence: int) -> ChainCheck:
    checked = 0
    for entry in entries:
        if entry.sequence != expected_sequence:
            return ChainCheck(
                False,
                checked,
                expected_sequence,
                f"entry #{expected_sequence} is missing: it was deleted",
                "deleted",
            )
        if entry.prev_hash != prev_hash or _entry_hash(prev_hash, entry) != entry.entry_hash:
            return _explain(entry, prev_hash, checked)
        prev_hash = entry.entry_hash
        expected_sequence += 1
        checked += 1
    return ChainCheck(True, checked, verified_through=expected_sequence - 1)


def _in_order(after: int = 0) -> Iterator[AuditEvent]:
    return (
        AuditEvent.objects.filter(sequence__gt=after).order_by("sequence").iterator(chunk_size=2000)
    )


def audit_chain_verify(*, entries: Iterable[AuditEvent] | None = None) -> ChainCheck:
    """Recompute every hash in order; name the first entry that does not fit."""
    return _walk(
        entries if entries is not None else _in_order(), prev_hash=GENESIS_HASH, expected_sequence=1
    )


def _verification_signature(sequence: int, entry_hash: str) -> str:
    key = settings.AUDIT_HMAC_KEY.encode()
    return hmac.new(
        key, f"audit-verified:{sequence}:{entry_hash}".encode(), hashlib.sha256
    ).hexdigest()


def _verified_so_far() -> tuple[int, str]:
    """The signed point the chain was last verified through that still matches the table;
    the genesis when there is none, or it is forged, or its entry no longer matches."""
    state = AuditVerification.objects.order_by("pk").first()
    if state is None or not hmac.compare_digest(
        state.signature, _verification_signature(state.sequence, state.entry_hash)
    ):
        return 0, GENESIS_HASH
    marked = AuditEvent.objects.filter(sequence=state.sequence).first()
    if (
        marked is None
        or marked.entry_hash != state.entry_hash
        or _entry_hash(marked.prev_hash, marked) != marked.entry_hash
    ):
        return 0, GENESIS_HASH  # verify from the start, which names the entry changed
    return state.sequence, state.entry_hash


def audit_chain_verify_incremental() -> ChainCheck:
    """Verify only the entries written since the last verification, then move its signed
    mark forward; its cost depends on the entries written since, not on the trail's length."""
    sequence, entry_hash = _verified_so_far()
    check = _walk(_in_order(sequence), prev_hash=entry_hash, expected_sequence=sequence + 1)
    if check.ok and check.verified_through > sequence:
        head = AuditEvent.objects.filter(sequence=check.verified_through).values("entry_hash")
        head_hash = head.get()["entry_hash"]
        AuditVerification.objects.update_or_create(
            pk=1,
            defaults={
                "sequence": check.verified_through,
                "entry_hash": head_hash,
                "verified_at": timezone.now(),
                "signature": _verification_signature(check.verified_through, head_hash),
            },
        )
    if check.ok:
        return ChainCheck(
            True, check.checked, verified_through=max(sequence, check.verified_through)
        )
    return check
