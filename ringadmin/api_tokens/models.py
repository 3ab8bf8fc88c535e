"""A user's API token: only its SHA-256 and its first characters are stored.

The secret is 32 random bytes (URL-safe base64), so a fast hash is enough: there is nothing to
guess that a slow hash would protect. The prefix identifies a token in lists and commands and
narrows the lookup; the full hash is then compared in constant time.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models

PREFIX_LENGTH = 8


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(
        max_length=100, help_text="What the token is for, e.g. “nightly export”."
    )
    prefix = models.CharField(
        max_length=PREFIX_LENGTH,
        db_index=True,
        editable=False,
        help_text="The token's first characters, to recognise it; the rest is never stored.",
    )
    key_hash = models.CharField("SHA-256 of the token", max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Recorded at most once a minute."
    )
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Empty: valid until revoked."
    )
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    def state(self, *, now: datetime) -> str:
        """``active``, ``revoked`` or ``expired`` at ``now``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"
