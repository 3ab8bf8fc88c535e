"""Writing the ingest handshake log (read by admins in ``streaming/ingest/admin.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ringadmin.storable import storable_json, storable_text
from streaming.ingest.models import HandshakeOutcome, IngestHandshake
from streaming.profiles.models import StreamingProfile


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
