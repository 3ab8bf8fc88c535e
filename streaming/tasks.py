"""Post-call work, enqueued when a call is finalized."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from celery.exceptions import TimeLimitExceeded
from django.conf import settings

from ringadmin.retry import vendor_retry_policy
from ringadmin.vendors import ringcx
from streaming import sync
from streaming.models import StreamingProfile
from streaming.recordings import recording_fingerprint
from streaming.recovery import recordings_recover
from streaming.transcription.services import call_transcribe

logger = logging.getLogger(__name__)


@shared_task(
    name="streaming.call_postprocess",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def call_postprocess(call_id: int) -> None:
    """Fingerprint the finished recording (safe to run twice: it recomputes the same), then
    queue its analysis (its own task: a failure there never undoes the fingerprint)."""
    recording_fingerprint(call_id=call_id)
    call_analyse_task.delay(call_id)


@shared_task(name="streaming.call_analyse", acks_late=True, ignore_result=True)
def call_analyse_task(call_id: int) -> None:
    """Talk time, silence, overtalk, interruptions and the waveform, stored once per call."""
    from streaming.call_analysis import call_analyse

    call_analyse(call_id=call_id)


class TranscribeCallTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        """Also called in the worker's parent when the hard time limit killed the run: the
        row it was filling must not stay "Transcribing" (its own errors are already told)."""
        from streaming.transcription.engines.base import TranscriptionError
        from streaming.transcription.services import transcripts_fail_unfinished

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


@shared_task(name="streaming.recover_interrupted_recordings", ignore_result=True)
def recover_interrupted_recordings() -> None:
    """Periodic: calls left live by an ingest process that died (on any host)."""
    recordings_recover()


# --- streaming profiles ↔ RingCX ---------------------------------------------------------------


@shared_task(
    name="streaming.profile_push",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,  # bounded by streaming.sync.PROFILE_SYNC_RETRY
    ignore_result=True,
)
def streaming_profile_push_task(self, profile_id: int, version: int) -> None:
    """Push one profile to RingCX. Idempotent (reads before it writes); retries as
    ``PROFILE_SYNC_RETRY`` says (rate limits and outages only, honouring Retry-After)."""
    policy = sync.PROFILE_SYNC_RETRY
    try:
        sync.streaming_profile_push(profile_id=profile_id, version=version)
    except policy.retryable as exc:
        delay = policy.next_delay(exc, retries=self.request.retries)
        if delay is None:
            sync.streaming_profile_push_gave_up(profile_id=profile_id, version=version, error=exc)
            return
        raise self.retry(exc=exc, countdown=delay) from exc


@shared_task(
    name="streaming.profile_remote_delete",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,  # bounded by streaming.sync.PROFILE_SYNC_RETRY
    ignore_result=True,
)
def streaming_profile_remote_delete_task(
    self, sub_account_id: str, product_type: str, product_id: int
):
    """Remove a deleted profile's media product from RingCX (absent already counts as done)."""
    policy = sync.PROFILE_SYNC_RETRY
    try:
        sync.streaming_profile_remote_delete(
            sub_account_id=sub_account_id, product_type=product_type, product_id=product_id
        )
    except policy.retryable as exc:
        delay = policy.next_delay(exc, retries=self.request.retries)
        if delay is None:
            logger.error(
                "RingCX media product %s/%s/%s could not be deleted: %s",
                sub_account_id,
                product_type,
                product_id,
                exc,
            )
            return
        raise self.retry(exc=exc, countdown=delay) from exc


@shared_task(name="streaming.profiles_verify", ignore_result=True)
def streaming_profiles_verify_task() -> None:
    """Periodic drift check of every profile against RingCX (reports, never overwrites)."""
    if not ringcx.vendors_configured():
        return
    for profile_id in StreamingProfile.objects.values_list("pk", flat=True):
        sync.streaming_profile_verify(profile_id=profile_id)
