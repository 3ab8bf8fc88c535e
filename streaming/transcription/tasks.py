"""The post-call transcription task (its name is unchanged: queued messages refer to it).

Queued by ``streaming.transcription.post_call``; re-exported by ``streaming/tasks.py``, where
Celery discovers the app's tasks.
"""

from __future__ import annotations

import logging

from celery import Task, shared_task
from celery.exceptions import TimeLimitExceeded
from django.conf import settings

from ringadmin.vendors.errors import vendor_retry_policy
from streaming.transcription.engines.base import TranscriptionError
from streaming.transcription.services import call_transcribe, transcripts_fail_unfinished

logger = logging.getLogger(__name__)


class TranscribeCallTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        """Also called in the worker's parent when the hard time limit killed the run: the
        row it was filling must not stay "Transcribing" (its own errors are already told)."""
        if isinstance(exc, TranscriptionError):
            return
        call_id = kwargs.get("call_id", args[0] if args else None)
        if call_id is None:
            return
        reason = (
            "stopped at the time limit"
            if isinstance(exc, TimeLimitExceeded)
            else f"the task failed: {exc!r}"
        )
        try:
            transcripts_fail_unfinished(call_id=call_id, engine=kwargs.get("engine"), error=reason)
        except Exception:
            logger.exception("could not mark the transcript of call %s failed", call_id)


@shared_task(
    base=TranscribeCallTask,
    name="streaming.transcribe_call",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    max_retries=None,  # bounded by TRANSCRIPTION_MAX_RETRIES below
)
def transcribe_call(self, call_id: int, engine: str | None = None, force: bool = False) -> None:
    """The post-call transcript (idempotent: one per call, engine and model version).

    Only temporary engine failures (network, 429, 5xx) are retried, with the vendors' one
    policy (backoff, never sooner than the engine's Retry-After); a refused request or a
    broken model is final.
    """
    policy = vendor_retry_policy(max_retries=settings.TRANSCRIPTION_MAX_RETRIES)
    try:
        call_transcribe(call_id=call_id, engine=engine, force=force)
    except policy.retryable as exc:
        delay = policy.next_delay(exc, retries=self.request.retries)
        if delay is None:
            raise
        raise self.retry(exc=exc, countdown=delay) from exc
