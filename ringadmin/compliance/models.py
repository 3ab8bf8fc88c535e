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
    CONSENT_NOTICE_DRAFTED = "consent.notice_drafted", "Consent notice drafted"
    CONSENT_NOTICE_PUBLISHED = "consent.notice_published", "Consent notice published"
    CONSENT_NOTICE_RETIRED = "consent.notice_retired", "Consent notice retired"
    CONSENT_EXPORTED = "consent.exported", "Consent log exported"


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
    actor_label = models.CharField(max_length=150, blank=True, help_text="username or 'system'")
    target_type = models.CharField(max_length=60, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    call = models.ForeignKey(
        "calls.Call", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
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
