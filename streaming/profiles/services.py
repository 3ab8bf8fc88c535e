"""Writes of streaming profiles. Each is audited in its transaction and requests the RingCX
sync the change needs, queued once the transaction commits (the sync itself is
``streaming.profiles.sync``, run by ``streaming.profiles.tasks``)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ringadmin.compliance.audit import audit_changes, audit_record
from ringadmin.compliance.models import AuditEventType
from ringadmin.vendors import ringcx
from streaming.profiles.models import StreamingProfile, SyncState, product_type_normalize
from streaming.profiles.sync import RemoteKey
from streaming.profiles.tasks import (
    streaming_profile_push_task,
    streaming_profile_remote_delete_task,
)

SECRET_BYTES = 32
PREVIOUS_SECRET_GRACE = timedelta(minutes=15)


def streaming_secret_generate() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


@transaction.atomic
def streaming_profile_create(
    *,
    product_type: str,
    product_id: int,
    sub_account_id: str,
    main_account_id: str,
    rc_account_id: str,
    streaming_url: str,
    secret: str | None = None,
    with_secret: bool = True,
    enabled: bool = True,
    retention_days: int = 365,
    notes: str = "",
    actor: AbstractBaseUser | None = None,
) -> StreamingProfile:
    """Create a validated profile. A secret is generated unless one is given or refused."""
    profile = StreamingProfile(
        product_type=product_type_normalize(product_type) or product_type,
        product_id=product_id,
        sub_account_id=str(sub_account_id),
        main_account_id=str(main_account_id),
        rc_account_id=str(rc_account_id),
        streaming_url=streaming_url,
        secret=(secret or streaming_secret_generate()) if with_secret else "",
        enabled=enabled,
        retention_days=retention_days,
        notes=notes,
    )
    profile.full_clean()
    profile.save()
    _profile_changed(profile=profile, event=AuditEventType.PROFILE_CREATED, actor=actor)
    return profile


@transaction.atomic
def streaming_profile_update(
    *, profile: StreamingProfile, changed_fields: Iterable[str], actor: AbstractBaseUser | None
) -> StreamingProfile:
    """Validate and save an edited profile (admin form), auditing each changed field's old and
    new value (secret-named fields masked).

    Only the edited fields are written, so a secret rotated meanwhile is never put back.
    """
    profile.full_clean()
    editable = {f.name for f in StreamingProfile._meta.fields if f.editable}
    fields = sorted(set(changed_fields) & editable)
    before = StreamingProfile.objects.filter(pk=profile.pk).values(*fields).first() or {}
    after = {
        f.name: f.value_from_object(profile)
        for f in StreamingProfile._meta.fields
        if f.name in fields
    }
    profile.save(update_fields=[*fields, "updated_at"] if fields else None)
    _profile_changed(
        profile=profile,
        event=AuditEventType.PROFILE_CHANGED,
        actor=actor,
        extra={
            "changed": sorted(changed_fields),
            "changes": audit_changes(before, after, fields),
        },
    )
    return profile


@transaction.atomic
def streaming_profile_rotate_secret(
    *, profile: StreamingProfile, actor: AbstractBaseUser | None = None
) -> str:
    """Issue a new secret. The old one keeps working for a short grace period, so calls that
    RingCX starts before it learns the new secret are not refused."""
    profile = StreamingProfile.objects.select_for_update().get(pk=profile.pk)
    now = timezone.now()
    new_secret = streaming_secret_generate()
    profile.previous_secret = profile.secret
    profile.previous_secret_valid_until = now + PREVIOUS_SECRET_GRACE if profile.secret else None
    profile.secret = new_secret
    profile.secret_rotated_at = now
    profile.save(
        update_fields=[
            "secret",
            "previous_secret",
            "previous_secret_valid_until",
            "secret_rotated_at",
            "updated_at",
        ]
    )
    _profile_changed(profile=profile, event=AuditEventType.PROFILE_SECRET_ROTATED, actor=actor)
    return new_secret


@transaction.atomic
def streaming_profile_disable(
    *, profile: StreamingProfile, actor: AbstractBaseUser | None = None
) -> StreamingProfile:
    profile.enabled = False
    profile.save(update_fields=["enabled", "updated_at"])
    _profile_changed(profile=profile, event=AuditEventType.PROFILE_DISABLED, actor=actor)
    return profile


@transaction.atomic
def streaming_profile_delete(
    *, profile: StreamingProfile, actor: AbstractBaseUser | None = None
) -> None:
    """Delete the profile, audited, and remove it from RingCX once the deletion commits."""
    audit_record(
        event_type=AuditEventType.PROFILE_DELETED,
        actor=actor,
        target=profile,
        data=_profile_audit_data(profile),
    )
    streaming_profile_delete_request(profile=profile)
    profile.delete()


def _profile_changed(
    *,
    profile: StreamingProfile,
    event: AuditEventType,
    actor: AbstractBaseUser | None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Every change RingCX must learn: audited in this transaction, pushed after commit."""
    audit_record(
        event_type=event,
        actor=actor,
        target=profile,
        data={**(extra or {}), **_profile_audit_data(profile)},
    )
    streaming_profile_sync_request(profile=profile)


def _profile_audit_data(profile: StreamingProfile) -> dict[str, Any]:
    return {
        "product_type": profile.product_type,
        "product_id": profile.product_id,
        "sub_account_id": profile.sub_account_id,
        "streaming_url": profile.streaming_url,
        "enabled": profile.enabled,
    }


# --- requesting a RingCX sync (inside the transaction of the local change) -----------------


def streaming_profile_sync_request(*, profile: StreamingProfile) -> None:
    """Mark the profile pending and push it to RingCX once this transaction commits."""
    if not ringcx.vendors_configured():
        StreamingProfile.objects.filter(pk=profile.pk).update(
            sync_state=SyncState.NOT_CONFIGURED,
            sync_error="RingCX is not configured: set RINGCENTRAL_CLIENT_ID, "
            "RINGCENTRAL_CLIENT_SECRET and RINGCENTRAL_JWT to sync profiles.",
        )
        return
    StreamingProfile.objects.filter(pk=profile.pk).update(
        sync_version=F("sync_version") + 1, sync_state=SyncState.PENDING, sync_error=""
    )
    version = StreamingProfile.objects.values_list("sync_version", flat=True).get(pk=profile.pk)
    profile.sync_version = version
    profile.sync_state = SyncState.PENDING
    transaction.on_commit(
        lambda: streaming_profile_push_task.delay(profile.pk, version), robust=True
    )


def streaming_profile_delete_request(*, profile: StreamingProfile) -> None:
    """The row is being deleted: remove the product from RingCX after commit."""
    if not ringcx.vendors_configured():
        return
    key = RemoteKey.of(profile)
    transaction.on_commit(
        lambda: streaming_profile_remote_delete_task.delay(**key.as_kwargs()), robust=True
    )
