"""Supervisors' pages."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ringadmin.calls.models import CallStatus
from ringadmin.calls.selectors import calls_visible_to


@login_required
@permission_required("calls.view_call", raise_exception=True)
def call_list(request: HttpRequest) -> HttpResponse:
    calls = calls_visible_to(user=request.user)
    status = request.GET.get("status", "")
    if status in CallStatus.values:
        calls = calls.filter(status=status)
    page = Paginator(calls, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "monitoring/call_list.html",
        {"page": page, "status": status, "statuses": CallStatus.choices},
    )
