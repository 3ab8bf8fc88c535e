"""Reads of streaming profiles: which profile a stream or a call belongs to, and whether a
presented secret is the profile's."""

from __future__ import annotations

import hmac

from django.utils import timezone

from ringadmin.calls.services import CallProduct
from streaming.profiles.models import StreamingProfile, product_type_normalize


def streaming_profile_find(
    *, product_type: str | None, product_id: str | int | None, sub_account_id: str | None = None
) -> StreamingProfile | None:
    """The profile for a product (and sub-account when known); ``None`` if none or ambiguous."""
    normalized = product_type_normalize(product_type)
    if normalized is None or product_id in (None, ""):
        return None
    try:
        product_id_int = int(str(product_id).strip())
    except ValueError:
        return None
    profiles = StreamingProfile.objects.filter(product_type=normalized, product_id=product_id_int)
    if sub_account_id:
        profiles = profiles.filter(sub_account_id=str(sub_account_id))
    found = list(profiles[:2])
    return found[0] if len(found) == 1 else None


def streaming_secret_matches(*, profile: StreamingProfile, presented: str | None) -> bool:
    """Constant-time comparison with the current secret, or the previous one in its grace."""
    if not profile.secret:
        return True
    if not presented:
        return False
    presented_bytes = presented.encode()
    if hmac.compare_digest(presented_bytes, profile.secret.encode()):
        return True
    return bool(
        profile.previous_secret
        and profile.previous_secret_valid_until
        and profile.previous_secret_valid_until > timezone.now()
        and hmac.compare_digest(presented_bytes, profile.previous_secret.encode())
    )


def streaming_profile_call_product(*, profile_id: int) -> CallProduct | None:
    """The product a profile streams, as the call lifecycle takes it; ``None`` when the
    profile no longer exists."""
    profile = StreamingProfile.objects.filter(pk=profile_id).first()
    if profile is None:
        return None
    return CallProduct(
        product_type=profile.product_type,
        product_type_label=profile.get_product_type_display(),
        product_id=int(profile.product_id),
        sub_account_id=profile.sub_account_id,
        main_account_id=profile.main_account_id,
        rc_account_id=profile.rc_account_id,
    )


def streaming_profile_consent_series_id(*, profile_id: int) -> int | None:
    """The consent notice series a profile's calls get (``None``: no notice applies)."""
    return (
        StreamingProfile.objects.filter(pk=profile_id)
        .values_list("consent_notice_series_id", flat=True)
        .first()
    )
