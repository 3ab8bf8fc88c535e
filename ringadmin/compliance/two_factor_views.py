"""Pages of the second sign-in step: enrolling an authenticator app, and giving its code."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods

from ringadmin.compliance import two_factor


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_enrol(request: HttpRequest) -> HttpResponse:
    """A QR code and the key of a new device; its first code confirms it."""
    if two_factor.has_confirmed_device(request.user) and not two_factor.session_verified(
        request.user
    ):
        # Another device is added only by a verified session.
        return HttpResponseRedirect(two_factor.next_url(request))
    device = two_factor.enrolment_device(request.user)  # type: ignore[arg-type]
    failed = False
    if request.method == "POST":
        if two_factor.enrolment_confirm(request, device, request.POST.get("token", "")):
            return HttpResponseRedirect(two_factor.next_url(request))
        failed = True
    context = {
        # segno draws the SVG from the device's URL only: no user text goes into it.
        "qr_svg": mark_safe(two_factor.device_qr_svg(device)),  # noqa: S308
        "secret": two_factor.device_secret(device),
        "next": two_factor.next_url(request),
        "failed": failed,
    }
    return render(
        request, "registration/two_factor_enrol.html", context, status=400 if failed else 200
    )


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """After the password: the code from the user's authenticator app."""
    if two_factor.session_verified(request.user):
        return HttpResponseRedirect(two_factor.next_url(request))
    if not two_factor.has_confirmed_device(request.user):
        query = urlencode({"next": two_factor.next_url(request)})
        return HttpResponseRedirect(f"{reverse('two-factor-enrol')}?{query}")
    failed = False
    if request.method == "POST":
        if two_factor.verification_check(request, request.POST.get("token", "")):
            return HttpResponseRedirect(two_factor.next_url(request))
        failed = True
    context = {
        "next": two_factor.next_url(request),
        "failed": failed,
        "throttled": failed and two_factor.verification_throttled(request.user),
    }
    return render(
        request, "registration/two_factor_verify.html", context, status=400 if failed else 200
    )
