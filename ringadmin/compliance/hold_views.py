"""Auditors' and admins' page of legal holds: the active and recently released holds, a form
to place one (on a call or on a filter) and a release with its reason. Both writes go through
the audited services."""

from __future__ import annotations

import logging

from django import forms
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from ringadmin.calls.selectors import calls_visible_to
from ringadmin.compliance.legal_holds import (
    LegalHoldInvalid,
    legal_hold_criteria,
    legal_hold_release,
    legal_hold_set,
)
from ringadmin.compliance.models import LegalHold

logger = logging.getLogger(__name__)
RELEASED_SHOWN = 50


class LegalHoldForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
    call = forms.IntegerField(required=False, min_value=1, label="Call id")
    agent_id = forms.CharField(required=False, max_length=64, label="Agent id")
    product_type = forms.ChoiceField(
        required=False,
        choices=[("", "Any"), ("Queue", "Queue"), ("Campaign", "Campaign")],
        label="Queue or campaign",
    )
    product_id = forms.CharField(required=False, max_length=64, label="Queue / campaign id")
    started_from = forms.DateTimeField(required=False, label="Calls started from (UTC)")
    started_until = forms.DateTimeField(required=False, label="until (UTC)")
    phone = forms.CharField(required=False, max_length=64, label="Phone number (ANI or DNIS)")


class ReleaseForm(forms.Form):
    reason = forms.CharField(max_length=2000)


def _page(request: HttpRequest, form: LegalHoldForm, status: int = 200) -> HttpResponse:
    active = LegalHold.objects.filter(released_at__isnull=True).select_related("set_by")
    released = LegalHold.objects.filter(released_at__isnull=False).select_related(
        "set_by", "released_by"
    )[:RELEASED_SHOWN]
    return render(
        request,
        "compliance/legal_holds.html",
        {
            "form": form,
            "active": [(hold, legal_hold_criteria(hold)) for hold in active],
            "released": [(hold, legal_hold_criteria(hold)) for hold in released],
            "can_set": request.user.has_perm("compliance.add_legalhold"),
            "can_release": request.user.has_perm("compliance.change_legalhold"),
        },
        status=status,
    )


@login_required
@permission_required("compliance.view_legalhold", raise_exception=True)
@require_http_methods(["GET", "POST"])
def legal_holds(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request, LegalHoldForm())
    if not request.user.has_perm("compliance.add_legalhold"):
        return HttpResponse("You may not place legal holds.", status=403)
    form = LegalHoldForm(request.POST)
    if not form.is_valid():
        logger.info("legal hold refused: invalid form (%s)", ", ".join(form.errors))
        return _page(request, form, status=400)
    data = form.cleaned_data
    call = None
    if data["call"] is not None:
        call = calls_visible_to(user=request.user).filter(pk=data["call"]).first()
        if call is None:
            form.add_error("call", "No such call.")
            return _page(request, form, status=400)
    try:
        legal_hold_set(
            actor=request.user,
            reason=data["reason"],
            call=call,
            agent_id=data["agent_id"],
            product_type=data["product_type"],
            product_id=data["product_id"],
            started_from=data["started_from"],
            started_until=data["started_until"],
            phone=data["phone"],
            ip_address=request.META.get("REMOTE_ADDR"),
        )
    except LegalHoldInvalid as error:
        logger.info("legal hold refused: %s", error)
        form.add_error(None, str(error))
        return _page(request, form, status=400)
    return redirect("legal-holds")


@login_required
@permission_required("compliance.change_legalhold", raise_exception=True)
@require_POST
def legal_hold_release_view(request: HttpRequest, hold_id: int) -> HttpResponse:
    hold = get_object_or_404(LegalHold, pk=hold_id)
    form = ReleaseForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Give the reason for releasing the hold.", status=400)
    try:
        legal_hold_release(
            hold=hold,
            actor=request.user,
            reason=form.cleaned_data["reason"],
            ip_address=request.META.get("REMOTE_ADDR"),
        )
    except LegalHoldInvalid as error:
        return HttpResponse(str(error), status=400)
    return redirect("legal-holds")
