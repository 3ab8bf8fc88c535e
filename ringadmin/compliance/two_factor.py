"""Two-factor sign-in (TOTP): who must give a code, enrolment and verification.

A user must give a one-time code after the password when their role is in
``REQUIRE_TWO_FACTOR_ROLES`` or when they enrolled a device of their own accord. Until then
every page (Django admin's too) sends them to enrolment or verification; only those pages,
sign-out and static files stay open.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable

import segno
from django.conf import settings
from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from ringadmin.compliance.users import role_of

logger = logging.getLogger("ringadmin.signin")

DEVICE_NAME = "Authenticator app"
TOKEN_MAX_LENGTH = 8


def two_factor_required(user: AbstractUser | AnonymousUser) -> bool:
    """Whether this signed-in user must give a code (by role, or because they enrolled)."""
    if not user.is_authenticated:
        return False
    if settings.REQUIRE_TWO_FACTOR_ROLES:
        role = role_of(user=user)
        if role is not None and role.value.lower().removesuffix("s") in (
            settings.REQUIRE_TWO_FACTOR_ROLES
        ):
            return True
    return has_confirmed_device(user)


def session_verified(user: object) -> bool:
    """Whether this session gave a second factor (OTPMiddleware adds ``is_verified``)."""
    is_verified = getattr(user, "is_verified", None)
    return bool(is_verified()) if callable(is_verified) else False


def has_confirmed_device(user: AbstractUser | AnonymousUser) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def enrolment_device(user: AbstractUser) -> TOTPDevice:
    """The user's device being enrolled: the same key on every reload until it is confirmed."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def device_secret(device: TOTPDevice) -> str:
    """The key as authenticator apps take it when typed in (base32, no padding)."""
    return base64.b32encode(device.bin_key).decode().rstrip("=")


def device_qr_svg(device: TOTPDevice) -> str:
    """The ``otpauth://`` URL as an inline SVG QR code, drawn here: nothing leaves the site."""
    return segno.make(device.config_url, error="m").svg_inline(scale=4, border=2)


def token_clean(raw: str) -> str | None:
    """Digits only, spaces allowed between them; anything else is not a code."""
    token = "".join(raw.split())
    if not token.isdigit() or not 6 <= len(token) <= TOKEN_MAX_LENGTH:
        return None
    return token


def enrolment_confirm(request: HttpRequest, device: TOTPDevice, raw_token: str) -> bool:
    """Confirm the device with a first code, and count this session as verified."""
    token = token_clean(raw_token)
    if token is None or not device.verify_token(token):
        logger.warning("two-factor enrolment: wrong code", extra={"user_id": request.user.pk})
        return False
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    otp_login(request, device)
    logger.info("two-factor enrolment: device confirmed", extra={"user_id": request.user.pk})
    return True


def verification_check(request: HttpRequest, raw_token: str) -> bool:
    """Verify a code against the user's confirmed devices (each throttles wrong codes)."""
    token = token_clean(raw_token)
    if token is not None:
        for device in TOTPDevice.objects.filter(user=request.user, confirmed=True):
            if device.verify_token(token):
                otp_login(request, device)
                return True
    logger.warning("two-factor verification: wrong code", extra={"user_id": request.user.pk})
    return False


def verification_throttled(user: AbstractUser | AnonymousUser) -> bool:
    """After wrong codes each device makes the next try wait (doubling): say so, rather than
    refusing a right code in silence."""
    return any(
        not device.verify_is_allowed()[0]
        for device in TOTPDevice.objects.filter(user=user, confirmed=True)
    )


def next_url(request: HttpRequest) -> str:
    """Where to go after the second factor: a local ``next`` or the home page."""
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return reverse("home")


class TwoFactorRequiredMiddleware:
    """Sends a signed-in user who owes a second factor to verification (or enrolment)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and not session_verified(user)
            and not self._open(request.path)
            and two_factor_required(user)
        ):
            target = "two-factor-verify" if has_confirmed_device(user) else "two-factor-enrol"
            query = urlencode({"next": request.get_full_path()})
            return HttpResponseRedirect(f"{reverse(target)}?{query}")
        return self.get_response(request)

    @staticmethod
    def _open(path: str) -> bool:
        open_paths = (
            reverse("two-factor-verify"),
            reverse("two-factor-enrol"),
            reverse("logout"),
            reverse("login"),
            reverse("healthz"),
            "/" + settings.STATIC_URL.lstrip("/"),
        )
        return path.startswith(open_paths)
