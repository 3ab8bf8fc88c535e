"""The log of ingest handshakes: what arrived at the socket and what we answered."""

from __future__ import annotations

from django.db import models

from streaming.profiles.models import StreamingProfile


class HandshakeOutcome(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    CLOSED = "closed", "Closed after accept"


class IngestHandshake(models.Model):
    """What arrived at the ingest socket's handshake (secret redacted) and what we answered.

    RingCX's handshake parameters are not fully documented; admins read these to see what a
    real account sends. Only the most recent ones are kept.
    """

    KEEP_LAST = 200

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    client = models.CharField(max_length=100, blank=True)
    path = models.CharField(max_length=300, blank=True)
    query_params = models.JSONField(default=dict, blank=True)
    header_names = models.JSONField(default=list, blank=True)
    secret_source = models.CharField(max_length=40, blank=True)
    outcome = models.CharField(max_length=16, choices=HandshakeOutcome.choices)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    profile = models.ForeignKey(
        StreamingProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ringcx_call_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.outcome} {self.reason}"
