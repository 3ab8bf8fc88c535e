"""Deciding, at the handshake and at Start, whether a stream may record (database side)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from django.conf import settings

from streaming.ingest.handshake import Handshake
from streaming.ingest.handshake_log import ingest_handshake_log
from streaming.ingest.models import HandshakeOutcome
from streaming.profiles.models import StreamingProfile, product_type_normalize
from streaming.profiles.selectors import streaming_profile_find, streaming_secret_matches

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    accept: bool
    status: int | None = None  # HTTP status when refused before accepting
    reason: str = ""
    profile_id: int | None = None
    secret_verified: bool = False
    profile_has_secret: bool = False


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _shown(value: str) -> str:
    """A client's value in a reason: one line (log lines, close reasons), cut short."""
    return _CONTROL.sub("?", value[:40])


def _describe(params: dict[str, str]) -> str:
    return f"{_shown(params.get('productType', '?'))}/{_shown(params.get('productId', '?'))}" + (
        f" in sub-account {_shown(params['subaccountId'])}" if params.get("subaccountId") else ""
    )


def profile_check(
    *, params: dict[str, str], presented_secret: str | None, require_secret: bool
) -> tuple[Decision, StreamingProfile | None]:
    """Resolve the profile from product type/id (+ sub-account) and check the secret."""
    if not (product_type_normalize(params.get("productType")) and params.get("productId")):
        return Decision(True, reason="profile resolved at Start"), None
    profile = streaming_profile_find(
        product_type=params.get("productType"),
        product_id=params.get("productId"),
        sub_account_id=params.get("subaccountId"),
    )
    if profile is None:
        return Decision(False, 403, f"no streaming profile for {_describe(params)}"), None
    if not profile.enabled:
        return Decision(
            False, 403, f"streaming profile {profile.pk} is disabled", profile.pk
        ), profile
    if not profile.secret:
        return Decision(
            True, reason="profile has no secret", profile_id=profile.pk, secret_verified=True
        ), profile
    if presented_secret is None:
        if require_secret:
            return Decision(False, 403, "missing secret", profile.pk, False, True), profile
        return Decision(
            True,
            reason="secret expected in Connected or Start",
            profile_id=profile.pk,
            profile_has_secret=True,
        ), profile
    if not streaming_secret_matches(profile=profile, presented=presented_secret):
        return Decision(False, 403, "bad secret", profile.pk, False, True), profile
    return Decision(
        True,
        reason="secret verified",
        profile_id=profile.pk,
        secret_verified=True,
        profile_has_secret=True,
    ), profile


def ingest_authorize_handshake(*, handshake: Handshake) -> tuple[Decision, StreamingProfile | None]:
    """Decide (reads only). The caller records the handshake: at once when refusing, in the
    background when accepting, so a call's first frames never wait for the log's write."""
    return profile_check(
        params=handshake.params,
        presented_secret=handshake.secret,
        require_secret=settings.INGEST_REQUIRE_HANDSHAKE_SECRET,
    )


def ingest_handshake_record(
    *, handshake: Handshake, decision: Decision, profile: StreamingProfile | None
) -> None:
    ingest_handshake_log(
        client=handshake.client,
        path=handshake.path,
        query_params=handshake.redacted_params,
        header_names=handshake.header_names,
        secret_source=handshake.secret_source,
        outcome=HandshakeOutcome.ACCEPTED if decision.accept else HandshakeOutcome.REJECTED,
        status_code=101 if decision.accept else decision.status,
        reason=decision.reason,
        profile=profile,
        ringcx_call_id=handshake.params.get("callId", ""),
    )
    if not decision.accept:
        logger.warning(
            "ingest handshake refused (%s): %s from %s",
            decision.status,
            decision.reason,
            handshake.client,
            extra={"params": handshake.redacted_params},
        )


def ingest_refusal_record(*, handshake: Handshake, profile_id: int | None, reason: str) -> None:
    """A stream accepted at the handshake and refused at Start (a close, not an HTTP status)."""
    ingest_handshake_log(
        client=handshake.client,
        path=handshake.path,
        query_params=handshake.redacted_params,
        header_names=handshake.header_names,
        secret_source=handshake.secret_source,
        outcome=HandshakeOutcome.CLOSED,
        status_code=None,
        reason=f"refused at Start: {reason}",
        profile=StreamingProfile.objects.filter(pk=profile_id).first() if profile_id else None,
        ringcx_call_id=handshake.params.get("callId", ""),
    )


def ingest_authorize_start(
    *, handshake: Handshake, decision: Decision, metadata: dict, secret: str | None
) -> Decision:
    """At Start: resolve the profile if the handshake did not, and verify a late secret."""
    if decision.secret_verified and decision.profile_id is not None:
        return decision
    params = {
        **{k: str(v) for k, v in metadata.items() if v is not None},
        **{k: v for k, v in handshake.params.items() if v},
    }
    candidate = secret or handshake.secret
    result, profile = profile_check(params=params, presented_secret=candidate, require_secret=True)
    if result.accept and result.profile_id is None:
        result = Decision(
            False,
            None,
            f"no streaming profile for {_describe(params)}: "
            "the handshake and Start metadata carry no product type and id",
        )
    if not result.accept:
        ingest_handshake_log(
            client=handshake.client,
            path=handshake.path,
            query_params=handshake.redacted_params,
            header_names=handshake.header_names,
            secret_source=handshake.secret_source if not secret else "message",
            outcome=HandshakeOutcome.CLOSED,
            status_code=None,
            reason=f"refused at Start: {result.reason}",
            profile=profile,
            ringcx_call_id=str(metadata.get("callId", "")),
        )
        logger.warning("ingest stream refused at Start: %s", result.reason)
    return result
