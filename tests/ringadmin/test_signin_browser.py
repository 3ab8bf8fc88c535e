"""In a real browser: wrong passwords up to the limit lock the sign-in with a clear message; an
admin whose role requires two-factor signs in with the code of their authenticator app (computed
here from the device's key, as the app would) and reaches Django admin."""

from __future__ import annotations

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.conftest import CHROMIUM
from tests.ringadmin.test_signin_security import current_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "pw-Long-enough-1"


def _sign_in(page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_lockout_then_two_factor_sign_in(live_server, make_user, settings) -> None:
    from playwright.sync_api import expect, sync_playwright

    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.AXES_FAILURE_LIMIT = 3
    settings.REQUIRE_TWO_FACTOR_ROLES = ["admin"]
    # A wrong code delays the next try by a second; the test types the right one at once.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    make_user("supervisor", username="sam", password=PASSWORD)
    ada = make_user("admin", username="ada", password=PASSWORD)
    device = TOTPDevice.objects.create(user=ada, name="phone", confirmed=True)
    base = live_server.url

    # No ORM inside the Playwright block: its event loop would make Django refuse sync queries.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            for _ in range(settings.AXES_FAILURE_LIMIT - 1):
                _sign_in(page, base, "sam", "not-the-password-1")
                expect(page.get_by_role("alert")).to_contain_text("didn't match")
            _sign_in(page, base, "sam", "not-the-password-1")
            expect(page.get_by_role("heading", name="Sign-in locked")).to_be_visible()
            expect(page.get_by_role("alert")).to_contain_text("locked for 15 minutes")
            _sign_in(page, base, "sam", PASSWORD)  # the right password, still locked
            expect(page.get_by_role("heading", name="Sign-in locked")).to_be_visible()

            _sign_in(page, base, "ada", PASSWORD)
            expect(page.get_by_role("heading", name="Two-factor sign-in")).to_be_visible()
            page.goto(f"{base}/admin/")  # the admin site asks for the code too
            expect(page.get_by_role("heading", name="Two-factor sign-in")).to_be_visible()
            page.get_by_label("Code from the app").fill("000000")
            page.get_by_role("button", name="Verify").click()
            expect(page.get_by_role("alert")).to_contain_text("not right")
            page.get_by_label("Code from the app").fill(current_code(device))
            page.get_by_role("button", name="Verify").click()
            expect(page.get_by_role("heading", name="Administration")).to_be_visible()
        finally:
            browser.close()
