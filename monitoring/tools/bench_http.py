"""What the page benchmarks share: a host name the running settings accept."""

from __future__ import annotations

from django.conf import settings


def allowed_host() -> str:
    """A host ``ALLOWED_HOSTS`` accepts, so the benchmarks never change the settings."""
    for host in settings.ALLOWED_HOSTS:
        if host not in ("*", "") and not host.startswith("."):
            return host
    return "localhost"
