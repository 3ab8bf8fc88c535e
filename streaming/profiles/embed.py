"""The agent iFrame (``/client``): which profile a key opens, which call; the key's rotation.

RingCX's agent application shows a URL from the agent script (Script Studio) in an iFrame
with the call's id: ``/client?callId={{model.call.uii}}&key=<embed key>``. There is no
ringadmin session there (agents are not ringadmin users, and a cross-site frame gets no
cookies anyway), so the per-profile embed key is the credential: it opens the calls of that
profile only, compared in constant time, and rotating it (audited) closes every old URL.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db import transaction
from django.db.models import Case, IntegerField, Q, Value, When

from ringadmin.calls.models import Call, CallStatus
from ringadmin.compliance.audit import audit_record
from ringadmin.compliance.models import AuditEventType
from streaming.profiles.keys import embed_key_generate
from streaming.profiles.models import StreamingProfile

SCRIPT_STUDIO_CALL_ID = "{{model.call.uii}}"  # RingCX fills in the call's id
MAX_KEY_CHARS = 128


def embed_profile_for_key(*, presented: str) -> StreamingProfile | None:
    """The profile whose embed key this is, or None. Every profile's key is compared, in
    constant time and without stopping at a match: the time taken says nothing about a key."""
    if not presented or len(presented) > MAX_KEY_CHARS:
        return None
    presented_bytes = presented.encode()
    found: StreamingProfile | None = None
    profiles = StreamingProfile.objects.only(
        "pk", "embed_key", "product_type", "product_id", "sub_account_id"
    )
    for profile in profiles:
        if profile.embed_key and hmac.compare_digest(presented_bytes, profile.embed_key.encode()):
            found = profile
    return found


def embed_call_for(*, profile: StreamingProfile, ringcx_call_id: str) -> Call | None:
    """The profile's call with this RingCX id: the live one, else the most recent (a call id
    can have several sessions). Another profile's call with the same id is never found."""
    calls = Call.objects.filter(
        Q(subaccount_id="") | Q(subaccount_id=profile.sub_account_id),
        ringcx_call_id=ringcx_call_id,
        product_type__iexact=profile.product_type,
        product_id=str(profile.product_id),
    )
    live_first = Case(
        When(status=CallStatus.LIVE, then=Value(1)), default=Value(0), output_field=IntegerField()
    )
    return calls.annotate(live_first=live_first).order_by("-live_first", "-started_at").first()


def script_studio_url(*, base_url: str, profile: StreamingProfile) -> str:
    """The URL to paste into the agent script's iFrame element."""
    return f"{base_url.rstrip('/')}/client?callId={SCRIPT_STUDIO_CALL_ID}&key={profile.embed_key}"


@transaction.atomic
def embed_key_rotate(
    *, profile: StreamingProfile, actor: AbstractBaseUser | None = None
) -> StreamingProfile:
    """A new key: every iFrame URL with the old one stops working at once (audited)."""
    profile = StreamingProfile.objects.select_for_update().get(pk=profile.pk)
    profile.embed_key = embed_key_generate()
    profile.save(update_fields=["embed_key", "updated_at"])
    audit_record(
        event_type=AuditEventType.PROFILE_CHANGED,
        actor=actor,
        target=profile,
        data={
            "changed": ["embed_key"],
            "embed_key_rotated": True,
            "product_type": profile.product_type,
            "product_id": profile.product_id,
            "sub_account_id": profile.sub_account_id,
        },
    )
    return profile


# --- wrong keys, counted per client address ---------------------------------------------------


def _wrong_key_cache_key(client: str) -> str:
    return f"agent-embed:wrong-keys:{client[:64]}"


def embed_wrong_keys_exceeded(*, client: str) -> bool:
    """Has this address sent too many wrong keys lately? Then no key of it is checked at all
    until its window ends, so a key cannot be guessed however many requests are sent."""
    return cache.get(_wrong_key_cache_key(client), 0) >= settings.AGENT_EMBED_MAX_WRONG_KEYS


def embed_wrong_key_count(*, client: str) -> int:
    """Count one wrong (or missing) key from this address; the count in its window."""
    key = _wrong_key_cache_key(client)
    cache.add(key, 0, timeout=settings.AGENT_EMBED_WRONG_KEY_WINDOW_SECONDS)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=settings.AGENT_EMBED_WRONG_KEY_WINDOW_SECONDS)
        return 1
