"""Issuing, revoking and checking API tokens: the only code that sees a token in clear.

Issuing and revoking are audited in the same transaction as the change. Checking a token reads
one indexed row (by prefix) and compares the SHA-256 in constant time; a successful use is
recorded at most once a minute, so an API client costs no write per request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ringadmin.api_tokens.models import PREFIX_LENGTH, ApiToken
from ringadmin.compliance.audit import audit_record
from ringadmin.compliance.models import AuditEventType

TOKEN_BYTES = 32
# secrets.token_urlsafe(32) is 43 characters; anything far from that is not one of ours.
TOKEN_MIN_LENGTH = 32
TOKEN_MAX_LENGTH = 128
USE_RECORD_INTERVAL = timedelta(minutes=1)


class TokenRefused(Exception):
    """The token does not authenticate anyone; ``code`` says why, for the client."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # shown once to whoever issued it, never stored


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_token_create(
    *,
    user: AbstractBaseUser,
    name: str,
    expires_at: datetime | None = None,
    created_by: AbstractBaseUser | AnonymousUser | None = None,
    ip_address: str | None = None,
) -> IssuedToken:
    """A new token for ``user``; the returned secret is the only copy there will ever be."""
    secret = secrets.token_urlsafe(TOKEN_BYTES)
    token = ApiToken(
        # A user passed in is always an instance of AUTH_USER_MODEL, the key's model.
        user=cast(User, user),
        name=name.strip(),
        prefix=secret[:PREFIX_LENGTH],
        key_hash=token_hash(secret),
        expires_at=expires_at,
    )
    token.full_clean()
    with transaction.atomic():
        token.save()
        audit_record(
            event_type=AuditEventType.API_TOKEN_CREATED,
            actor=created_by,
            target=token,
            data=_audit_data(token),
            ip_address=ip_address,
        )
    return IssuedToken(token=token, secret=secret)


def api_token_revoke(
    *,
    token: ApiToken,
    revoked_by: AbstractBaseUser | AnonymousUser | None = None,
    ip_address: str | None = None,
) -> bool:
    """Revoke now; ``False`` (and nothing written) when it already was."""
    with transaction.atomic():
        now = timezone.now()
        changed = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=now
        )
        if not changed:
            return False
        token.revoked_at = now
        audit_record(
            event_type=AuditEventType.API_TOKEN_REVOKED,
            actor=revoked_by,
            target=token,
            data=_audit_data(token),
            ip_address=ip_address,
        )
    return True


def api_token_check(secret: str, *, now: datetime | None = None) -> ApiToken:
    """The active token whose secret this is (with its user), else ``TokenRefused``."""
    now = now or timezone.now()
    if not TOKEN_MIN_LENGTH <= len(secret) <= TOKEN_MAX_LENGTH:
        raise TokenRefused("token_invalid", "Invalid API token.")
    wanted = token_hash(secret)
    candidates = ApiToken.objects.select_related("user").filter(prefix=secret[:PREFIX_LENGTH])
    token = next((c for c in candidates if hmac.compare_digest(c.key_hash, wanted)), None)
    if token is None:
        raise TokenRefused("token_invalid", "Invalid API token.")
    state = token.state(now=now)
    if state == "revoked":
        raise TokenRefused("token_revoked", "This API token has been revoked.")
    if state == "expired":
        raise TokenRefused("token_expired", "This API token has expired.")
    if not token.user.is_active:
        raise TokenRefused("user_inactive", "The account of this API token is deactivated.")
    return token


def api_token_mark_used(*, token: ApiToken, now: datetime | None = None) -> None:
    """Record a use, at most once per ``USE_RECORD_INTERVAL`` (one conditional UPDATE)."""
    now = now or timezone.now()
    last = token.last_used_at
    if last is not None and now - last < USE_RECORD_INTERVAL:
        return
    ApiToken.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - USE_RECORD_INTERVAL),
        pk=token.pk,
    ).update(last_used_at=now)
    token.last_used_at = now


def _audit_data(token: ApiToken) -> dict[str, Any]:
    return {
        "name": token.name,
        "prefix": token.prefix,
        "user": token.user.get_username(),
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
    }
