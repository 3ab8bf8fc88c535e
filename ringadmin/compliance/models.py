"""The audit trail: one append-only, hash-chained table every feature writes through one service."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditEventType(models.TextChoices):
    LOGIN = "auth.login", "Signed in"
    LOGIN_FAILED = "auth.login_failed", "Sign-in failed"
    LOGOUT = "auth.logout", "Signed out"
    USER_CREATED = "user.created", "User created"
    ROLE_ASSIGNED = "user.role_assigned", "Role assigned"
    CALL_VIEWED = "call.viewed", "Call viewed"
    RECORDING_PLAYED = "recording.played", "Recording played"
    RECORDING_DOWNLOADED = "recording.downloaded", "Recording downloaded"
    TRANSCRIPT_VIEWED = "transcript.viewed", "Transcript viewed"
    TRANSCRIPT_DOWNLOADED = "transcript.downloaded", "Transcript downloaded"
    AUDIT_VIEWED = "audit.viewed", "Audit trail viewed"
    AUDIT_EXPORTED = "audit.exported", "Audit trail exported"
    PROFILE_CREATED = "profile.created", "Streaming profile created"
    PROFILE_CHANGED = "profile.changed", "Streaming profile changed"
    PROFILE_SECRET_ROTATED = "profile.secret_rotated", "Streaming profile secret rotated"
    PROFILE_DISABLED = "profile.disabled", "Streaming profile disabled"
    PROFILE_DELETED = "profile.deleted", "Streaming profile deleted"
    CALL_RECORDING_RECOVERED = "call.recording_recovered", "Interrupted recording recovered"
    API_TOKEN_CREATED = "api_token.created", "API token created"
    API_TOKEN_REVOKED = "api_token.revoked", "API token revoked"
    LEGAL_HOLD_SET = "legal_hold.set", "Legal hold set"
    LEGAL_HOLD_RELEASED = "legal_hold.released", "Legal hold released"
    RETENTION_PURGED = "retention.purged", "Call content purged (retention)"
    DSR_EXPORTED = "dsr.exported", "Data-subject export"
    DSR_ERASED = "dsr.erased", "Call content erased (data-subject request)"
    CONSENT_NOTICE_DRAFTED = "consent.notice_drafted", "Consent notice drafted"
    CONSENT_NOTICE_PUBLISHED = "consent.notice_published", "Consent notice published"
    CONSENT_NOTICE_RETIRED = "consent.notice_retired", "Consent notice retired"
    CONSENT_EXPORTED = "consent.exported", "Consent log exported"


USER_AGENT_MAX = 512


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("The audit trail is append-only: entries cannot be updated.")

    def delete(self):
        raise PermissionError("The audit trail is append-only: entries cannot be deleted.")


class AuditEvent(models.Model):
    """One thing that happened, who did it, to what; chained to the previous entry by HMAC."""

    sequence = models.BigIntegerField(unique=True, editable=False)
    occurred_at = models.DateTimeField(db_index=True, editable=False)
    event_type = models.CharField(max_length=40, choices=AuditEventType.choices, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Users who acted are never deleted, only deactivated.",
    )
    actor_label = models.CharField(
        max_length=150,
        blank=True,
        help_text="username, 'system', or empty when nobody is signed in (a failed sign-in)",
    )
    target_type = models.CharField(max_length=60, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    call = models.ForeignKey(
        "calls.Call", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(
        max_length=USER_AGENT_MAX, blank=True, help_text="the client's User-Agent, shortened"
    )
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64, editable=False)
    entry_hash = models.CharField(max_length=64, unique=True, editable=False)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-sequence"]
        permissions = [("export_auditevent", "Can export the audit trail")]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.event_type} by {self.actor_label or 'system'}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise PermissionError("The audit trail is append-only: entries cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("The audit trail is append-only: entries cannot be deleted.")


class LegalHold(models.Model):
    """Keeps calls' content from retention and erasure until released.

    A hold names one call, or a filter (agent, queue or campaign, date range, phone number as
    ANI or DNIS): every set criterion must match, so a filter hold also catches calls recorded
    after it was set. Holds are released, never deleted, so who held what and why stays known.
    """

    reason = models.TextField()
    call = models.ForeignKey(
        "calls.Call", null=True, blank=True, on_delete=models.PROTECT, related_name="legal_holds"
    )
    agent_id = models.CharField(max_length=64, blank=True)
    product_type = models.CharField(
        max_length=16, blank=True, help_text="Queue or Campaign (with the product id)."
    )
    product_id = models.CharField(max_length=64, blank=True)
    started_from = models.DateTimeField(null=True, blank=True)
    started_until = models.DateTimeField(null=True, blank=True)
    phone = models.CharField(
        max_length=64, blank=True, help_text="Matches the caller (ANI) or the dialled (DNIS)."
    )
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    set_at = models.DateTimeField()
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True, db_index=True)
    release_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-set_at"]

    def __str__(self) -> str:
        state = "released" if self.released_at else "active"
        return f"legal hold #{self.pk} ({state}): {self.reason[:40]}"

    @property
    def is_active(self) -> bool:
        return self.released_at is None


class PurgeReason(models.TextChoices):
    RETENTION = "retention", "Retention period ended"
    ERASURE = "erasure", "Data-subject erasure request"


class CallPurge(models.Model):
    """The tombstone of a call whose content (recording, waveform, analysis, transcripts) was
    removed: the call row and its metadata stay, and this says who removed it, when and why."""

    call = models.OneToOneField(
        "calls.Call", on_delete=models.PROTECT, related_name="purge", primary_key=True
    )
    reason = models.CharField(max_length=12, choices=PurgeReason.choices)
    note = models.TextField(blank=True)
    purged_at = models.DateTimeField(db_index=True)
    purged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    purged_by_label = models.CharField(max_length=150, help_text="username or 'system'")
    removed = models.JSONField(default=dict, blank=True, help_text="What was removed.")
    files = models.JSONField(
        default=list, blank=True, help_text="Recording files to delete once the purge commits."
    )
    files_removed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the files were deleted (empty: still to do)."
    )

    def __str__(self) -> str:
        return f"{self.call} purged ({self.reason}) at {self.purged_at:%Y-%m-%d %H:%M}"


class AuditVerification(models.Model):
    """How far the chain was last verified, so a page verifies only the entries written since.

    One row, signed with the chain's key: a row forged or moved forward without the key is
    refused and the next verification starts from the beginning again.
    """

    sequence = models.BigIntegerField()
    entry_hash = models.CharField(max_length=64)
    verified_at = models.DateTimeField()
    signature = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"verified through #{self.sequence}"


# Consent and notices live in their own module; imported here so Django finds the models.
from ringadmin.compliance.consent_models import (  # noqa: E402
    ConsentNotice,
    ConsentNoticeSeries,
    ConsentRecord,
    SignedExport,
)

__all__ = [
    "AuditEvent",
    "AuditEventType",
    "ConsentNotice",
    "ConsentNoticeSeries",
    "ConsentRecord",
    "SignedExport",
]
