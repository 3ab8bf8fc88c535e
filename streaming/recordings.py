"""Services on finished recordings."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from django.conf import settings
from django.db import transaction

from ringadmin.calls.models import Call

logger = logging.getLogger(__name__)


def recording_file(call: Call) -> Path | None:
    """The call's recording on disk, if it is a file inside ``RECORDINGS_DIR``.

    The path comes from the database, so it is checked before anything is read or served: a
    row pointing elsewhere (tampering, a moved directory) gets one warning line and ``None``,
    like a missing file.
    """
    if not call.recording_path:
        return None
    path = Path(call.recording_path).resolve()
    if not path.is_relative_to(Path(settings.RECORDINGS_DIR).resolve()):
        logger.warning("recording of call %s is outside RECORDINGS_DIR; not used", call.pk)
        return None
    if not path.is_file():
        logger.warning("recording of call %s is missing", call.pk)
        return None
    return path


def recording_fingerprint(*, call_id: int) -> str | None:
    """Store the recording's SHA-256 and size, so later tampering or loss is detectable."""
    call = Call.objects.filter(pk=call_id).only("recording_path").first()
    if call is None or not call.recording_path:
        return None
    path = Path(call.recording_path)
    if not path.is_file():
        logger.warning("recording of call %s is missing: %s", call_id, path)
        return None
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    with transaction.atomic():
        call = Call.objects.select_for_update().get(pk=call_id)
        recording = dict(call.stream_stats.get("recording", {}))
        recording.update({"sha256": digest.hexdigest(), "file_bytes": path.stat().st_size})
        call.stream_stats = {**call.stream_stats, "recording": recording}
        call.save(update_fields=["stream_stats", "updated_at"])
    return digest.hexdigest()
