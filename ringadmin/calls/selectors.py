"""Reads of calls, always scoped by who is asking."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.db.models import QuerySet

from ringadmin.calls.models import Call


def calls_visible_to(*, user: AbstractUser | AnonymousUser) -> QuerySet[Call]:
    """Every call the user may see; none for anonymous or users without ``view_call``."""
    if not user.is_authenticated:
        return Call.objects.none()
    if not user.has_perm("calls.view_call"):
        return Call.objects.none()
    return Call.objects.all()


def call_for_user(*, user: AbstractUser | AnonymousUser, call_id: int) -> Call | None:
    """One call if it exists and the user may see it, else ``None``."""
    return calls_visible_to(user=user).filter(pk=call_id).first()
