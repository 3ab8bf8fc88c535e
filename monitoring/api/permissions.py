"""Each endpoint names the permission its page requires; the selectors then scope the rows."""

from __future__ import annotations

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView


def has_perms(*perms: str) -> type[BasePermission]:
    """A permission class granting signed-in users holding every one of ``perms``."""

    class HasPerms(BasePermission):
        message = "Your role does not allow this."
        required = perms

        def has_permission(self, request: Request, view: APIView) -> bool:
            user = request.user
            return bool(user and user.is_authenticated and user.has_perms(perms))

    HasPerms.__name__ = HasPerms.__qualname__ = "Has_" + "_".join(p.split(".")[1] for p in perms)
    return HasPerms


CanViewCalls = has_perms("calls.view_call")
CanPlayRecordings = has_perms("calls.view_call", "calls.play_recording")
CanViewAuditTrail = has_perms("compliance.view_auditevent")
