"""An admin creates a streaming profile in a real browser and sees its secret exactly once."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission

from ringadmin.compliance.roles import sync_roles
from streaming.models import StreamingProfile
from tests.conftest import CHROMIUM

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "pw-Long-enough-1"


def test_admin_creates_a_profile_and_sees_the_secret_once(live_server, make_user, settings) -> None:
    from playwright.sync_api import expect, sync_playwright

    # The live server speaks plain HTTP; the test settings are production-like (secure cookies).
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    # See test_profiles_admin.admin_user: a second role sync gives Admins the streaming perms.
    sync_roles(group_model=Group, permission_model=Permission)
    make_user("admin", username="ada", password=PASSWORD)

    # No ORM inside the Playwright block: its event loop would make Django refuse sync queries.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{live_server.url}/admin/login/?next=/admin/")
            page.fill("#id_username", "ada")
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            expect(page.locator("#site-name")).to_be_visible()

            page.goto(f"{live_server.url}/admin/streaming/streamingprofile/add/")
            expect(page.locator("#id_generate_secret")).to_be_checked()
            page.select_option("#id_product_type", "QUEUE")
            page.fill("#id_product_id", "4321")
            page.fill("#id_sub_account_id", "99990001")
            page.fill("#id_main_account_id", "99990000")
            page.fill("#id_rc_account_id", "123456789")
            page.fill("#id_streaming_url", "wss://rec.example.com:8443")
            page.click("input[name=_save]")

            message = page.locator("ul.messagelist li.success", has_text="copy it now")
            expect(message).to_have_count(1)
            shown_secret = message.locator("code.profile-secret").inner_text()
            list_after_create = page.content()

            page.reload()
            list_after_reload = page.content()
            page.click("#result_list a >> text=4321")
            change_url = page.url
            change_page = page.content()
            secret_field = page.locator(".field-secret_display .readonly").inner_text()
        finally:
            browser.close()

    profile = StreamingProfile.objects.get()
    assert shown_secret == profile.secret
    assert list_after_create.count(profile.secret) == 1
    assert profile.secret not in list_after_reload
    assert change_url.endswith(f"/admin/streaming/streamingprofile/{profile.pk}/change/")
    assert profile.secret not in change_page
    assert secret_field == profile.masked_secret
