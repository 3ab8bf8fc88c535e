"""The one way to write to the audit trail, and the check that it was not tampered with.

Each entry's hash is an HMAC over the previous entry's hash and the entry's own canonical
content, so changing, deleting or reordering any entry breaks every hash after it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import connection, models, transaction
from django.utils import timezone

from ringadmin.compliance.models import AuditEvent, AuditEventType
from ringadmin.logging import redact_mapping

GENESIS_HASH = "0" * 64
_ADVISORY_LOCK_KEY = 0x52494E47  # "RING": serialises appends on PostgreSQL


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
    return json.dumps(content, sort_keys=True, separators=(",", ":"), default=str).encode()


def _entry_hash(prev_hash: str, entry: AuditEvent) -> str:
    key = settings.AUDIT_HMAC_KEY.encode()
    return hmac.new(key, prev_hash.encode() + _canonical(entry), hashlib.sha256).hexdigest()


def audit_record(
    *,
    event_type: AuditEventType | str,
    actor: AbstractBaseUser | AnonymousUser | None = None,
    target: models.Model | None = None,
    call_id: int | None = None,
    data: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> AuditEvent:
    """Append one entry. Call it inside the transaction of the change it records."""
    event_type = AuditEventType(event_type)
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
            actor=cast(User, actor) if actor is not None and actor.is_authenticated else None,
            actor_label=(
                actor.get_username() if actor is not None and actor.is_authenticated else "system"
            ),
            target_type=target._meta.label_lower if target is not None else "",
            target_id=str(target.pk) if target is not None else "",
            call_id=call_id,
            ip_address=ip_address,
            data=redact_mapping(data or {}),
        )
        entry.prev_hash = last["entry_hash"] if last else GENESIS_HASH
        entry.entry_hash = _entry_hash(entry.prev_hash, entry)
        entry.save()
        return entry


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    checked: int
    first_bad_sequence: int | None = None
    reason: str = ""


def audit_chain_verify(*, entries: Iterable[AuditEvent] | None = None) -> ChainCheck:
    """Recompute every hash in order; report the first entry that does not match."""
    if entries is None:
        entries = AuditEvent.objects.order_by("sequence").iterator(chunk_size=2000)
    prev_hash = GENESIS_HASH
    expected_sequence = 1
    checked = 0
    for entry in entries:
        if entry.sequence != expected_sequence:
            return ChainCheck(False, checked, entry.sequence, "a sequence number is missing")
        if entry.prev_hash != prev_hash or _entry_hash(prev_hash, entry) != entry.entry_hash:
            return ChainCheck(False, checked, entry.sequence, "hash does not match its content")
        prev_hash = entry.entry_hash
        expected_sequence += 1
        checked += 1
    return ChainCheck(True, checked)
