"""Keeping RingCX's media products in step with our streaming profiles: the RingCX side.

Every local change that RingCX must learn bumps the profile's ``sync_version`` and enqueues a
task after commit (``streaming.profiles.services`` requests it with the change). The task
(``streaming.profiles.tasks``) runs what is here: it calls RingCX outside any transaction and
is idempotent: it reads the remote profile first and sends only the change still needed, so a
retry after a timeout never creates twice. The result is written back only if no newer change
arrived meanwhile. Drift (RingCX edited elsewhere) is reported, never silently overwritten.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, cast

from django.utils import timezone

from ringadmin.retry import call_with_retries
from ringadmin.vendors import ringcx
from ringadmin.vendors.errors import NotFound, VendorError, vendor_retry_policy
from streaming.profiles.models import StreamingProfile, SyncState

logger = logging.getLogger(__name__)

# How a push is retried, by the Celery tasks and by ``manage.py streaming_profile sync``: the
# vendors' one policy (rate limits and outages only, backoff from 5 s up to 10 min with
# jitter, never sooner than the vendor's Retry-After), at most 8 times.
PROFILE_SYNC_RETRY = vendor_retry_policy(max_retries=8)


@dataclass(frozen=True)
class RemoteKey:
    """Where a profile lives in RingCX (enough to delete it after the row is gone)."""

    sub_account_id: str
    product_type: str
    product_id: int

    @classmethod
    def of(cls, profile: StreamingProfile) -> RemoteKey:
        return cls(profile.sub_account_id, profile.product_type, int(profile.product_id))

    def as_kwargs(self) -> dict[str, Any]:
        return {
            "sub_account_id": self.sub_account_id,
            "product_type": self.product_type,
            "product_id": self.product_id,
        }


@dataclass
class SyncResult:
    profile_id: int | None
    action: str  # created | updated | unchanged | deleted | absent | skipped | failed
    detail: str = ""
    drift: dict[str, Any] = field(default_factory=dict)


def media_product_of(profile: StreamingProfile) -> ringcx.MediaProduct:
    return ringcx.MediaProduct(
        product_type=cast(ringcx.ProductType, profile.product_type),  # the field's choices
        product_id=int(profile.product_id),
        sub_account_id=profile.sub_account_id,
        main_account_id=profile.main_account_id,
        rc_account_id=profile.rc_account_id,
        streaming_url=profile.streaming_url,
        secret=profile.secret or None,
    )


def differences(*, local: ringcx.MediaProduct, remote: ringcx.MediaProduct) -> dict[str, Any]:
    """What differs, for admins: URLs and ids shown, secrets only said to differ."""
    found: dict[str, Any] = {}
    for name in ("streaming_url", "main_account_id", "rc_account_id"):
        if str(getattr(local, name) or "") != str(getattr(remote, name) or ""):
            found[name] = {"local": getattr(local, name), "ringcx": getattr(remote, name)}
    if not hmac.compare_digest((local.secret or "").encode(), (remote.secret or "").encode()):
        found["secret"] = {
            "local": "set" if local.secret else "none",
            "ringcx": ("a different secret" if remote.secret else "none"),
        }
    return found


# --- in a task; no transaction is open around the vendor calls -----------------------------


def streaming_profile_push(*, profile_id: int, version: int | None = None) -> SyncResult:
    """Make RingCX hold exactly this profile (or not hold it, when disabled).

    Raises the vendor's retryable errors (the task retries them); records anything else.
    """
    profile = StreamingProfile.objects.filter(pk=profile_id).first()
    if profile is None:
        return SyncResult(profile_id, "skipped", "the profile no longer exists")
    if version is not None and profile.synced_version >= version:
        return SyncResult(profile_id, "skipped", "already synced")
    key = RemoteKey.of(profile)
    try:
        result = _remote_upsert(profile) if profile.enabled else _remote_delete(key, profile_id)
    except VendorError as exc:
        if exc.retryable:
            raise
        _record(profile_id, profile.sync_version, SyncState.FAILED, error=str(exc))
        logger.warning("streaming profile %s not synced: %s", profile_id, exc)
        return SyncResult(profile_id, "failed", str(exc))
    _record(profile_id, profile.sync_version, SyncState.SYNCED)
    return result


def streaming_profile_push_now(
    *,
    profile_id: int,
    max_retries: int | None = None,
    on_retry: Callable[[Exception, int, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> SyncResult:
    """Push in the foreground, retrying as the task would (``PROFILE_SYNC_RETRY``, or up to
    ``max_retries`` times); when the retries are spent the failure is recorded and returned.

    ``on_retry(error, retry_number, delay)`` is called before each wait.
    """
    policy = PROFILE_SYNC_RETRY
    if max_retries is not None:
        policy = replace(policy, max_retries=max_retries)
    try:
        return call_with_retries(
            lambda: streaming_profile_push(profile_id=profile_id),
            policy=policy,
            on_retry=on_retry,
            sleep=sleep,
        )
    except policy.retryable as exc:
        streaming_profile_push_gave_up(profile_id=profile_id, version=None, error=exc)
        return SyncResult(profile_id, "failed", str(exc))


def streaming_profile_push_gave_up(
    *, profile_id: int, version: int | None, error: Exception
) -> None:
    """Retries are spent (or a manual sync failed): show the error on the profile."""
    if version is None:
        version = StreamingProfile.objects.values_list("sync_version", flat=True).get(pk=profile_id)
    _record(
        profile_id,
        version,
        SyncState.FAILED,
        error=f"{error} (use “Push to RingCX” or `manage.py streaming_profile sync` to retry)",
    )


def streaming_profile_remote_delete(
    *, sub_account_id: str, product_type: str, product_id: int
) -> SyncResult:
    return _remote_delete(RemoteKey(sub_account_id, product_type, int(product_id)), None)


def streaming_profile_verify(*, profile_id: int) -> SyncResult:
    """Compare with RingCX and report differences; change nothing remote."""
    profile = StreamingProfile.objects.get(pk=profile_id)
    key = RemoteKey.of(profile)
    now = timezone.now()
    try:
        remote = ringcx.media_product_get(**key.as_kwargs())
    except NotFound:
        drift = {"exists": {"local": profile.enabled, "ringcx": False}} if profile.enabled else {}
        state = SyncState.DRIFT if drift else SyncState.SYNCED
        StreamingProfile.objects.filter(pk=profile_id).update(
            sync_state=state, drift=drift, remote_checked_at=now
        )
        return SyncResult(profile_id, "absent", "not in RingCX", drift)
    except VendorError as exc:
        StreamingProfile.objects.filter(pk=profile_id).update(
            sync_state=SyncState.FAILED, sync_error=str(exc), remote_checked_at=now
        )
        return SyncResult(profile_id, "failed", str(exc))
    drift = differences(local=media_product_of(profile), remote=remote)
    if not profile.enabled:
        drift = {"exists": {"local": False, "ringcx": True}}
    StreamingProfile.objects.filter(pk=profile_id).update(
        sync_state=SyncState.DRIFT if drift else SyncState.SYNCED,
        drift=drift,
        remote_checked_at=now,
        sync_error="",
    )
    return SyncResult(profile_id, "unchanged" if not drift else "drift", "", drift)


def _remote_upsert(profile: StreamingProfile) -> SyncResult:
    local = media_product_of(profile)
    key = RemoteKey.of(profile)
    try:
        remote = ringcx.media_product_get(**key.as_kwargs())
    except NotFound:
        ringcx.media_product_create(product=local)
        return SyncResult(profile.pk, "created")
    if not differences(local=local, remote=remote):
        return SyncResult(profile.pk, "unchanged")
    ringcx.media_product_update(product=local)
    return SyncResult(profile.pk, "updated")


def _remote_delete(key: RemoteKey, profile_id: int | None) -> SyncResult:
    try:
        ringcx.media_product_delete(**key.as_kwargs())
    except NotFound:
        return SyncResult(profile_id, "absent", "not in RingCX")
    return SyncResult(profile_id, "deleted")


def _record(profile_id: int, version: int, state: SyncState, *, error: str = "") -> None:
    """Write the outcome, unless a newer local change is already waiting to be pushed.

    A failure keeps the time and version of the last successful sync.
    """
    now = timezone.now()
    changes: dict[str, Any] = {"sync_state": state, "sync_error": error, "remote_checked_at": now}
    if not error:
        changes.update(synced_version=version, synced_at=now, drift={})
    updated = StreamingProfile.objects.filter(pk=profile_id, sync_version=version).update(**changes)
    if not updated:
        logger.info(
            "streaming profile %s changed during its sync; a newer sync follows", profile_id
        )
