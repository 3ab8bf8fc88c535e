"""Signed checkpoints of the audit chain's head, kept outside the database.

The chain proves entries were not changed one by one, but whoever holds the database and the
chain's key could delete the newest entries or re-sign a rewritten chain. A checkpoint (the
head's sequence and hash, the number of entries, the time, an HMAC with
``AUDIT_CHECKPOINT_KEY``) appended to a file elsewhere pins what the chain was; the table is
then compared against every checkpoint. One JSON object per line, in
``AUDIT_CHECKPOINT_DIR/checkpoints.jsonl``, written with O_APPEND in one write each.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max
from django.utils import timezone

from ringadmin.compliance.audit import _ADVISORY_LOCK_KEY
from ringadmin.compliance.models import AuditEvent

CHECKPOINT_FILE = "checkpoints.jsonl"
_SIGNED_FIELDS = ("sequence", "entry_hash", "count", "at")


def checkpoint_path() -> Path:
    return Path(settings.AUDIT_CHECKPOINT_DIR) / CHECKPOINT_FILE


def _signature(checkpoint: dict[str, Any]) -> str:
    message = json.dumps(
        {name: checkpoint.get(name) for name in _SIGNED_FIELDS},
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    return hmac.new(settings.AUDIT_CHECKPOINT_KEY.encode(), message, hashlib.sha256).hexdigest()


def checkpoint_write() -> dict[str, Any]:
    """Append a signed checkpoint of the committed chain's head and return it. Call it outside
    a transaction that writes audit entries, or the checkpoint may name one never committed."""
    with transaction.atomic():
        if connection.vendor == "postgresql":  # no append between the head and the count
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])
        totals = AuditEvent.objects.aggregate(head=Max("sequence"), count=Count("pk"))
        head = totals["head"] or 0
        head_hash = (
            AuditEvent.objects.filter(sequence=head).values_list("entry_hash", flat=True).first()
            if head
            else None
        )
    checkpoint: dict[str, Any] = {
        "sequence": head,
        "entry_hash": head_hash or "",
        "count": totals["count"],
        "at": timezone.now().isoformat(),
    }
    checkpoint["hmac"] = _signature(checkpoint)
    path = checkpoint_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(checkpoint, sort_keys=True, separators=(",", ":")) + "\n").encode()
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(descriptor, line)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return checkpoint


@dataclass(frozen=True)
class CheckpointProblem:
    line: int  # in the checkpoint file, from 1; 0 for the file as a whole
    problem: str  # unsigned, truncated, resigned, count
    reason: str


def checkpoints_read() -> tuple[list[dict[str, Any]], list[CheckpointProblem]]:
    """Every well-signed checkpoint in the file, and a problem for each line that is not."""
    path = checkpoint_path()
    if not path.exists():
        return [], []
    checkpoints: list[dict[str, Any]] = []
    problems: list[CheckpointProblem] = []
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            try:
                checkpoint = json.loads(line)
                signed = isinstance(checkpoint, dict) and hmac.compare_digest(
                    str(checkpoint.get("hmac", "")), _signature(checkpoint)
                )
            except (ValueError, TypeError):
                signed = False
            if not signed:
                problems.append(
                    CheckpointProblem(number, "unsigned", f"checkpoint line {number} is not signed")
                )
                continue
            checkpoints.append({**checkpoint, "line": number})
    return checkpoints, problems


def checkpoint_latest() -> dict[str, Any] | None:
    checkpoints, _problems = checkpoints_read()
    return checkpoints[-1] if checkpoints else None


def checkpoints_compare() -> list[CheckpointProblem]:
    """Does the table still hold every entry each checkpoint pinned, with the same hash?

    A tail deleted after a checkpoint shows as a missing entry, a chain rewritten and
    re-signed after one as a different hash at the checkpoint's sequence."""
    checkpoints, problems = checkpoints_read()
    pinned = {c["sequence"] for c in checkpoints if c["sequence"]}
    hashes: dict[int, str] = {}
    pinned_list = sorted(pinned)
    for start in range(0, len(pinned_list), 1000):
        hashes.update(
            AuditEvent.objects.filter(sequence__in=pinned_list[start : start + 1000]).values_list(
                "sequence", "entry_hash"
            )
        )
    for checkpoint in checkpoints:
        sequence, line = checkpoint["sequence"], checkpoint["line"]
        if not sequence:
            continue
        if sequence not in hashes:
            problems.append(
                CheckpointProblem(
                    line,
                    "truncated",
                    f"entry #{sequence}, pinned by checkpoint line {line} ({checkpoint['at']}), "
                    "is gone: entries were deleted",
                )
            )
        elif hashes[sequence] != checkpoint["entry_hash"]:
            problems.append(
                CheckpointProblem(
                    line,
                    "resigned",
                    f"entry #{sequence} has another hash than checkpoint line {line} "
                    f"({checkpoint['at']}) pinned: the chain was rewritten",
                )
            )
    return sorted(problems, key=lambda p: p.line)
