"""Reads for the live calls page and its socket, always through ``calls_visible_to``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AbstractUser, AnonymousUser
from django.urls import reverse

from ringadmin.calls.models import Call, CallStatus
from ringadmin.calls.selectors import calls_visible_to

LIVE_PERMISSION = "calls.view_live_call"
MAX_LISTED = 1000  # calls in the first list a page gets; the digest adds any others


def may_watch_live(user: AbstractUser | AnonymousUser | None) -> bool:
    return bool(user is not None and user.is_authenticated and user.has_perm(LIVE_PERMISSION))


def user_reloaded(user: AbstractBaseUser) -> AbstractUser | None:
    """The user as the database has them now (an open socket outlives role changes): None
    when deactivated or deleted. A fresh object, so no permission is cached."""
    return get_user_model().objects.filter(pk=user.pk, is_active=True).first()


def live_call_summary(call: Call) -> dict[str, Any]:
    """What the live calls page shows of a call besides its progress."""
    return {
        "id": call.pk,
        "ringcx_call_id": call.ringcx_call_id,
        "agent": call.agent_id,
        "caller": call.ani,
        "dialled": call.dnis,
        "product": f"{call.product_type} {call.product_id}".strip(),
        "started_at": call.started_at.isoformat(),
        "live_url": reverse("call-live", args=[call.pk]),
    }


def live_calls_for(
    *, user: AbstractUser | AnonymousUser, call_ids: Iterable[int] | None = None
) -> dict[int, dict[str, Any]]:
    """The live calls the user may see (of ``call_ids`` when given), by id, oldest first."""
    calls = calls_visible_to(user=user).filter(status=CallStatus.LIVE)
    if call_ids is not None:
        calls = calls.filter(pk__in=list(call_ids))
    calls = calls.order_by("started_at", "pk")[:MAX_LISTED]
    return {call.pk: live_call_summary(call) for call in calls}


def visible_call_ids(*, user: AbstractUser | AnonymousUser, call_ids: Iterable[int]) -> set[int]:
    """Which of these calls the user may still see (whatever their status)."""
    visible = calls_visible_to(user=user).filter(pk__in=list(call_ids))
    return set(visible.values_list("pk", flat=True))
