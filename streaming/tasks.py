"""Post-call work, enqueued when a call is finalized."""

from __future__ import annotations

import logging

from celery import shared_task

from streaming.recordings import recording_fingerprint

logger = logging.getLogger(__name__)


@shared_task(
    name="streaming.call_postprocess",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def call_postprocess(call_id: int) -> None:
    """Fingerprint the finished recording (safe to run twice: it recomputes the same)."""
    recording_fingerprint(call_id=call_id)


@shared_task(name="streaming.recover_interrupted_recordings", ignore_result=True)
def recover_interrupted_recordings() -> None:
    """Periodic: calls left live by an ingest process that died (on any host)."""
    from streaming.recovery import recordings_recover

    recordings_recover()
