"""The ingest's writes of call records: the core's call lifecycle, for the streaming profile
that authenticated the socket.

The profile is read again in the call's transaction, so a stream of a profile deleted
meanwhile is refused, and handed to the core as plain values (``CallProduct``). The end of a
call needs no profile: the ingest calls ``ringadmin.calls.services.call_finalize`` itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import transaction

from ringadmin.calls.models import Call
from ringadmin.calls.services import (
    CallRefused,
    CallStartResult,
    call_key_problem,
    call_reject,
    call_start,
)
from ringadmin.compliance.consent import consent_record_at_call_start
from streaming.profiles.selectors import (
    streaming_profile_call_product,
    streaming_profile_consent_series_id,
)


@transaction.atomic
def ingest_call_start(
    *,
    ringcx_call_id: str,
    session_id: str,
    profile_id: int,
    metadata: Mapping[str, Any],
    handshake: Mapping[str, Any],
    owner: str,
    recording_path: str,
    started_at: datetime | None = None,
    new_recording: bool = False,
) -> CallStartResult:
    """``call_start`` for the profile's product. Raises :class:`CallRefused` as it does, and
    when the profile no longer exists (an id that cannot be stored is refused for that first,
    as the core would)."""
    problem = call_key_problem(ringcx_call_id=ringcx_call_id, session_id=session_id)
    if problem:
        raise CallRefused(problem)
    product = streaming_profile_call_product(profile_id=profile_id)
    if product is None:
        raise CallRefused("the streaming profile no longer exists")
    result = call_start(
        ringcx_call_id=ringcx_call_id,
        session_id=session_id,
        product=product,
        metadata=metadata,
        handshake=handshake,
        owner=owner,
        recording_path=recording_path,
        started_at=started_at,
        new_recording=new_recording,
    )
    if not result.resumed:  # the consent record is written once, with the call's row
        consent_record_at_call_start(
            call=result.call,
            notice_series_id=streaming_profile_consent_series_id(profile_id=profile_id),
        )
    return result


def ingest_call_reject(
    *,
    ringcx_call_id: str,
    session_id: str,
    profile_id: int,
    metadata: Mapping[str, Any],
    handshake: Mapping[str, Any],
    reason: str,
) -> Call | None:
    """``call_reject`` for the profile's product; nothing is recorded when the profile no
    longer exists."""
    product = streaming_profile_call_product(profile_id=profile_id)
    if product is None:
        return None
    return call_reject(
        ringcx_call_id=ringcx_call_id,
        session_id=session_id,
        product=product,
        metadata=metadata,
        handshake=handshake,
        reason=reason,
    )
