"""Celery tasks keeping RingCX in step with the streaming profiles (names unchanged: queued
messages and the beat schedule refer to them)."""

from __future__ import annotations

import logging

from celery import shared_task

from ringadmin.vendors import ringcx
from streaming.profiles import sync
from streaming.profiles.models import StreamingProfile

logger = logging.getLogger(__name__)


@shared_task(
    name="streaming.profile_push",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,  # bounded by sync.PROFILE_SYNC_RETRY
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
    max_retries=None,  # bounded by sync.PROFILE_SYNC_RETRY
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
