"""The agent iFrame's per-profile key (a leaf module: the model's default imports it)."""

from __future__ import annotations

import secrets

EMBED_KEY_BYTES = 32


def embed_key_generate() -> str:
    """32 random bytes, URL-safe: pasted into RingCX's Script Studio as part of a URL."""
    return secrets.token_urlsafe(EMBED_KEY_BYTES)
