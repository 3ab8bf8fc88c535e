"""Transcripts of calls (post-call and live) and their speaker turns."""

from __future__ import annotations

from django.db import models


class TranscriptKind(models.TextChoices):
    POST_CALL = "post_call", "After the call"
    LIVE = "live", "Live"


class TranscriptStatus(models.TextChoices):
    PENDING = "pending", "Queued"
    RUNNING = "running", "Transcribing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Speaker(models.TextChoices):
    AGENT = "agent", "Agent"
    CALLER = "caller", "Caller"


class Transcript(models.Model):
    """One transcript of a call by one engine and model version: the key of idempotency.

    Re-transcribing with the same engine and model replaces the segments in one transaction;
    another engine or model adds a transcript beside it. Live finals collect in the call's
    ``live`` transcript while it streams.
    """

    call = models.ForeignKey("calls.Call", on_delete=models.CASCADE, related_name="transcripts")
    kind = models.CharField(max_length=12, choices=TranscriptKind.choices)
    engine = models.CharField(max_length=20)
    model = models.CharField(max_length=200)
    status = models.CharField(
        max_length=10, choices=TranscriptStatus.choices, default=TranscriptStatus.PENDING
    )
    progress = models.FloatField(default=0.0, help_text="0 to 1 while transcribing")
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    audio_seconds = models.FloatField(null=True, blank=True)
    processing_seconds = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["call", "kind", "engine", "model"], name="transcript_unique_per_engine"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} transcript of call {self.call_id} ({self.engine})"

    @property
    def speed(self) -> float | None:
        """Times faster than real time."""
        if self.audio_seconds and self.processing_seconds:
            return self.audio_seconds / self.processing_seconds
        return None


class TranscriptSegment(models.Model):
    """One speaker turn, in time order, with word times for playback highlighting."""

    transcript = models.ForeignKey(Transcript, on_delete=models.CASCADE, related_name="segments")
    seq = models.PositiveIntegerField()
    speaker = models.CharField(max_length=8, choices=Speaker.choices)
    start = models.FloatField(help_text="seconds from the start of the recording")
    end = models.FloatField()
    text = models.TextField()
    confidence = models.FloatField(null=True, blank=True)
    words = models.JSONField(default=list, blank=True)
    # What redaction took out of ``text``: [{kind, start, end, time_start?, time_end?}], the
    # offsets in ``text`` as stored (the markers' places).
    redactions = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["transcript", "start", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["transcript", "seq"], name="segment_unique_seq")
        ]

    def __str__(self) -> str:
        return f"{self.speaker} {self.start:.1f}-{self.end:.1f}: {self.text[:40]}"


class UnredactedSegment(models.Model):
    """A segment's text before redaction: written only when ``TRANSCRIPT_STORE_UNREDACTED`` is
    on, read only with ``view_unredacted_transcript`` (held by no role) and every read audited.

    A table of its own so no page, export or API that lists segments can show it by accident.
    """

    segment = models.OneToOneField(
        TranscriptSegment, on_delete=models.CASCADE, primary_key=True, related_name="unredacted"
    )
    text = models.TextField()
    words = models.JSONField(default=list, blank=True)

    class Meta:
        default_permissions = ()
        permissions = [
            (
                "view_unredacted_transcript",
                "Can read transcripts' unredacted text (each read is audited)",
            )
        ]

    def __str__(self) -> str:
        return f"unredacted text of segment {self.segment_id}"
