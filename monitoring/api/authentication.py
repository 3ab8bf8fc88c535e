"""``Authorization: Bearer <token>`` → the token's user, or a 401 that says why.

The header is hostile input: it is parsed here without trusting its size, its characters or
its shape, and only a well-formed token reaches the database.
"""

from __future__ import annotations

import re

from django.contrib.auth.models import AbstractBaseUser
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from ringadmin.api_tokens.models import ApiToken
from ringadmin.api_tokens.services import (
    TOKEN_MAX_LENGTH,
    TokenRefused,
    api_token_check,
    api_token_mark_used,
)

SCHEME = "Bearer"
# RFC 6750's b64token: what a bearer token may be made of (ours use the URL-safe subset).
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
# Longer headers are refused before they are even split.
MAX_HEADER_LENGTH = len(SCHEME) + 1 + TOKEN_MAX_LENGTH


class MalformedAuthorization(ValueError):
    """A ``Bearer`` header that carries no usable token."""


def bearer_token(header: str | bytes | None) -> str | None:
    """The token of a ``Bearer`` Authorization header; ``None`` when the header is absent or of
    another scheme (another authentication may take it); ``MalformedAuthorization`` when it
    says Bearer but its token cannot be one."""
    if header is None:
        return None
    if isinstance(header, bytes):
        try:
            header = header.decode("ascii")
        except UnicodeDecodeError:
            raise MalformedAuthorization("the Authorization header is not ASCII") from None
    scheme, _, rest = header.strip(" \t").partition(" ")
    if scheme.lower() != SCHEME.lower():
        return None
    if len(header) > MAX_HEADER_LENGTH:
        raise MalformedAuthorization("the bearer token is too long")
    token = rest.strip(" \t")
    if not token:
        raise MalformedAuthorization("no token after Bearer")
    if not _B64TOKEN.fullmatch(token):
        raise MalformedAuthorization("the bearer token has characters a token cannot have")
    return token


class ApiTokenAuthentication(BaseAuthentication):
    """Per-user API tokens (``manage.py api_token create``); revoked, expired and unknown
    tokens are refused with 401 and a ``code`` (``token_invalid``, ``token_revoked``,
    ``token_expired``, ``user_inactive``, ``authorization_malformed``)."""

    def authenticate(self, request: Request) -> tuple[AbstractBaseUser, ApiToken] | None:
        try:
            secret = bearer_token(request.META.get("HTTP_AUTHORIZATION"))
        except MalformedAuthorization as exc:
            raise exceptions.AuthenticationFailed(
                f"Malformed Authorization header: {exc}.", code="authorization_malformed"
            ) from None
        if secret is None:
            return None
        try:
            token = api_token_check(secret)
        except TokenRefused as refused:  # the 401 is the request's one log line
            raise exceptions.AuthenticationFailed(refused.message, code=refused.code) from None
        api_token_mark_used(token=token)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return f'{SCHEME} realm="api"'
