"""Streaming profiles: what RingCX streams where, with the secret it must present."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models

from streaming.profiles.keys import embed_key_generate

# RingCX's own pattern for streamingUrl: ^$|^wss://host(:port)?$ — no path, no query.
STREAMING_URL_RE = re.compile(
    r"^wss://(?P<host>[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*)"
    r"(?::(?P<port>\d{1,5}))?$"
)


def validate_streaming_url(value: str) -> None:
    """RingCX refuses anything but ``wss://host[:port]``; say exactly what is wrong."""
    if not value.startswith("wss://"):
        raise ValidationError(
            "The streaming URL must start with wss:// (RingCX streams only over TLS)."
        )
    match = STREAMING_URL_RE.match(value)
    if not match:
        rest = value[len("wss://") :]
        if "/" in rest or "?" in rest or "#" in rest:
            raise ValidationError(
                "RingCX accepts only wss://host[:port]: remove the path, query or fragment "
                "(the ingest socket is served at the root path)."
            )
        raise ValidationError("Enter wss://host or wss://host:port with a valid host name.")
    port = match.group("port")
    if port is not None and not 1 <= int(port) <= 65535:
        raise ValidationError("The port must be between 1 and 65535.")


class ProductType(models.TextChoices):
    QUEUE = "QUEUE", "Queue"
    CAMPAIGN = "CAMPAIGN", "Campaign"


def product_type_normalize(value: str | None) -> str | None:
    """``Queue``/``queue``/``QUEUE`` → ``QUEUE``; anything else → ``None``."""
    if not value:
        return None
    upper = str(value).strip().upper()
    return upper if upper in ProductType.values else None


class SyncState(models.TextChoices):
    NOT_CONFIGURED = "not_configured", "Local only (RingCX not configured)"
    PENDING = "pending", "Pending"
    SYNCED = "synced", "Synced"
    FAILED = "failed", "Failed"
    DRIFT = "drift", "Differs from RingCX"


class StreamingProfile(models.Model):
    """One RingCX media product (queue or campaign) streaming to this server.

    The secret is kept so it can be sent to RingCX and checked on every ingest handshake; it
    is never shown after creation, never logged and masked in every list.
    """

    product_type = models.CharField(max_length=16, choices=ProductType.choices)
    product_id = models.BigIntegerField(help_text="RingCX queue (gate) or campaign id.")
    sub_account_id = models.CharField("RingCX sub-account id", max_length=64)
    main_account_id = models.CharField("RingCX main account id", max_length=64)
    rc_account_id = models.CharField("RingCentral account id", max_length=64)
    streaming_url = models.CharField(
        max_length=300,
        validators=[validate_streaming_url],
        help_text="wss://host[:port] of this server, as RingCX will call it.",
    )
    secret = models.CharField(max_length=200, blank=True, editable=False)
    previous_secret = models.CharField(max_length=200, blank=True, editable=False)
    previous_secret_valid_until = models.DateTimeField(null=True, blank=True, editable=False)
    secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    enabled = models.BooleanField(default=True)
    retention_days = models.PositiveIntegerField(
        default=365, help_text="How long recordings of this profile's calls are kept."
    )
    notes = models.TextField(blank=True)
    transcription_engine = models.CharField(
        max_length=20,
        blank=True,
        choices=[
            ("", "Default (TRANSCRIPTION_ENGINE)"),
            ("whisper", "Offline Whisper"),
            ("google", "Google Cloud Speech-to-Text"),
            ("deepgram", "Deepgram"),
            ("openai", "OpenAI"),
            ("none", "No transcription"),
        ],
        help_text="Engine for this profile's post-call transcripts; blank uses the default.",
    )
    consent_notice_series = models.ForeignKey(
        "compliance.ConsentNoticeSeries",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The consent notice this queue or campaign plays; none makes every call an "
        "exception (no notice).",
    )
    sync_state = models.CharField(
        max_length=20, choices=SyncState.choices, default=SyncState.PENDING, editable=False
    )
    sync_version = models.PositiveIntegerField(
        default=0, editable=False, help_text="Bumped by every local change that RingCX must learn."
    )
    synced_version = models.PositiveIntegerField(default=0, editable=False)
    synced_at = models.DateTimeField(null=True, blank=True, editable=False)
    sync_error = models.TextField(blank=True, editable=False)
    remote_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    drift = models.JSONField(
        default=dict,
        blank=True,
        editable=False,
        help_text="Fields where RingCX differs from this profile at the last check.",
    )
    embed_key = models.CharField(
        max_length=64,
        unique=True,
        default=embed_key_generate,
        editable=False,
        help_text="Key of the agent iFrame URL (/client) for this profile's calls.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sub_account_id", "product_type", "product_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["sub_account_id", "product_type", "product_id"],
                name="streamingprofile_unique_product",
            )
        ]

    def __str__(self) -> str:
        kind = self.get_product_type_display()
        return f"{kind} {self.product_id} (sub-account {self.sub_account_id})"

    def __repr__(self) -> str:  # never the secret
        return f"<StreamingProfile {self.pk} {self.product_type}/{self.product_id}>"

    @property
    def masked_secret(self) -> str:
        return f"••••{self.secret[-4:]}" if self.secret else "(none)"
