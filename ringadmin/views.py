"""Project-level pages: the role-aware home and the health endpoint."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from ringadmin.compliance.roles import Role
from ringadmin.compliance.users import role_of
from ringadmin.health import health_report

ROLE_HOME = {Role.ADMIN: "admin:index", Role.SUPERVISOR: "calls", Role.AUDITOR: "audit"}


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send each role to its place; a user with no role is told what to ask for."""
    role = role_of(user=request.user)
    if role is None:
        return render(request, "no_role.html", status=403)
    return redirect(ROLE_HOME[role])


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    healthy, report = health_report()
    return JsonResponse(report, status=200 if healthy else 503)
