"""What production requires and enforces: a secret key, the hosts served, HTTPS.

``DEBUG=false`` (the default) refuses to start without ``SECRET_KEY`` and turns on HTTPS
redirects, secure cookies and HSTS; ``DEBUG=true`` relaxes them for local development.
"""

from __future__ import annotations

import re

from django.core.exceptions import ImproperlyConfigured

from ringadmin.settings.base import DEBUG, ENV_FILE, VAR_DIR, env

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Production (DEBUG=false) needs a long random SECRET_KEY, e.g. "
            "SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(50))'). "
            f"For local development set DEBUG=true, in the environment or in {ENV_FILE} "
            "(`make run` writes that file, with a generated SECRET_KEY, when there is none)."
        )
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The key of the audit hash chain; keep it stable.
AUDIT_HMAC_KEY = env.str("AUDIT_HMAC_KEY", default="") or SECRET_KEY
# Signed checkpoints of the chain's head, appended outside the database (keep the directory on
# other storage, or copy it off the host); their key may differ from the chain's.
AUDIT_CHECKPOINT_DIR = env.path("AUDIT_CHECKPOINT_DIR", default=str(VAR_DIR / "audit"))
AUDIT_CHECKPOINT_KEY = env.str("AUDIT_CHECKPOINT_KEY", default="") or AUDIT_HMAC_KEY
# The key export manifests are signed with; blank derives one from SECRET_KEY (with a label).
EXPORT_SIGNING_KEY = env.str("EXPORT_SIGNING_KEY", default="")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- The agent iFrame (/client) in RingCX's agent application --------------------------------
_FRAME_SOURCE = re.compile(r"'none'|'self'|https?://(\*\.)?[A-Za-z0-9.-]+(:(\d{1,5}|\*))?")


def frame_ancestors_parse(value: str) -> list[str]:
    """CSP ``frame-ancestors`` sources from a space or comma separated list. Each must be an
    origin (a leading ``*.`` label allowed) or 'self'/'none': anything else, a ``;`` above all,
    would rewrite the policy, so it stops the start with a clear message."""
    sources = value.replace(",", " ").split()
    for source in sources:
        if not _FRAME_SOURCE.fullmatch(source):
            raise ImproperlyConfigured(
                f"AGENT_EMBED_FRAME_ANCESTORS: {source!r} is not an origin such as "
                "https://ringcx.ringcentral.com or https://*.ringcentral.com "
                "('self' and 'none' allowed)"
            )
    if not sources:
        raise ImproperlyConfigured("AGENT_EMBED_FRAME_ANCESTORS is empty: use 'none' to refuse")
    return sources


# Who may frame it: RingCX's agent application. Every other page keeps X-Frame-Options DENY.
AGENT_EMBED_FRAME_ANCESTORS = frame_ancestors_parse(
    env.str(
        "AGENT_EMBED_FRAME_ANCESTORS",
        default="https://ringcx.ringcentral.com https://*.ringcentral.com",
    )
)
# Wrong embed keys allowed per client address and window before /client answers 429.
AGENT_EMBED_MAX_WRONG_KEYS = env.int("AGENT_EMBED_MAX_WRONG_KEYS", default=20)
AGENT_EMBED_WRONG_KEY_WINDOW_SECONDS = env.int("AGENT_EMBED_WRONG_KEY_WINDOW_SECONDS", default=600)
