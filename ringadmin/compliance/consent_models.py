"""Consent and FCC notices (47 CFR 64.501): which notice a call got, and whether the audio
shows it was given. Every call is treated as all-party: a call with no notice is an exception.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class NoticeKind(models.TextChoices):
    ANNOUNCEMENT = "announcement", "Verbal announcement at call start"
    BEEP = "beep", "Periodic beep"
    VERBAL_CONSENT = "verbal_consent", "Explicit verbal consent"
    WRITTEN_IVR = "written_ivr", "Written / IVR consent"


class NoticeStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    RETIRED = "retired", "Retired"


class ConsentNoticeSeries(models.Model):
    """A notice as a named series of versions; streaming profiles name the series, and the
    version in force when a call starts is the one applied."""

    key = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["key"]
        verbose_name_plural = "consent notice series"

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"


class ConsentNotice(models.Model):
    """One version of a notice. A published version never changes (only its retirement is
    recorded): a call's consent record points at exactly the words it applied."""

    series = models.ForeignKey(
        ConsentNoticeSeries, on_delete=models.PROTECT, related_name="versions"
    )
    version = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=NoticeKind.choices)
    language = models.CharField(max_length=16, default="en")
    jurisdiction_note = models.CharField(max_length=300, blank=True)
    text = models.TextField(help_text="What is announced or agreed to.")
    key_phrase = models.CharField(
        max_length=300,
        blank=True,
        help_text="Words that must be heard on the agent channel (announcement, verbal consent).",
    )
    window_seconds = models.PositiveIntegerField(
        default=30, help_text="The key phrase must be spoken within this many seconds."
    )
    effective_from = models.DateTimeField()
    effective_to = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=NoticeStatus.choices, default=NoticeStatus.DRAFT, editable=False
    )
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    retired_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["series__key", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["series", "version"], name="consentnotice_version")
        ]

    def __str__(self) -> str:
        return f"{self.series.key} v{self.version} ({self.get_status_display()})"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            stored = ConsentNotice.objects.filter(pk=self.pk).values_list("status", flat=True)
            if stored.first() not in (None, NoticeStatus.DRAFT):
                raise PermissionError("A published notice version is immutable.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.status != NoticeStatus.DRAFT:
            raise PermissionError("A published notice version is never deleted.")
        return super().delete(*args, **kwargs)


class ConsentMethod(models.TextChoices):
    ANNOUNCEMENT = "announcement", "Announcement"
    BEEP = "beep", "Beep"
    VERBAL_CONSENT = "verbal_consent", "Verbal consent"
    WRITTEN_IVR = "written_ivr", "Written / IVR"
    NONE = "none", "None"


class ConsentGivenBy(models.TextChoices):
    SYSTEM = "system", "System"
    AGENT = "agent", "Agent"
    IVR = "ivr", "IVR"


class ConsentOutcome(models.TextChoices):
    NOTICE_GIVEN = "notice_given", "Notice given"
    NO_NOTICE = "no_notice", "No notice"


class ConsentVerification(models.TextChoices):
    NOT_CHECKED = "not_checked", "Not checked"
    VERIFIED = "verified", "Verified in audio"
    NOT_FOUND = "not_found", "Not found in audio"
    NO_TRANSCRIPT = "no_transcript", "No transcript"


class ConsentRecord(models.Model):
    """How one call's parties were told it is recorded, written once at the call's Start."""

    call = models.OneToOneField(
        "calls.Call", on_delete=models.CASCADE, related_name="consent", primary_key=True
    )
    notice = models.ForeignKey(
        ConsentNotice, null=True, blank=True, on_delete=models.PROTECT, related_name="records"
    )
    method = models.CharField(max_length=20, choices=ConsentMethod.choices)
    given_at = models.DateTimeField(null=True, blank=True, help_text="UTC")
    recording_offset_seconds = models.FloatField(
        null=True, blank=True, help_text="Seconds into the recording, when known."
    )
    given_by = models.CharField(max_length=10, choices=ConsentGivenBy.choices, blank=True)
    outcome = models.CharField(max_length=20, choices=ConsentOutcome.choices)
    verification = models.CharField(
        max_length=20, choices=ConsentVerification.choices, default=ConsentVerification.NOT_CHECKED
    )
    verification_score = models.FloatField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("export_consentrecord", "Can export consent logs")]
        indexes = [
            models.Index(fields=["outcome", "-call"], name="consent_outcome_call"),
            models.Index(fields=["verification", "-call"], name="consent_verification_call"),
        ]

    def __str__(self) -> str:
        return f"consent of call {self.call_id}: {self.get_outcome_display()}"


class SignedExport(models.Model):
    """One export file's signed manifest, kept so the file can be checked later; written when
    the last byte has been streamed (an interrupted download leaves no manifest)."""

    id = models.UUIDField(primary_key=True)
    kind = models.CharField(max_length=30)
    export_format = models.CharField(max_length=10)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    manifest = models.JSONField(default=dict, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} export {self.id}"
