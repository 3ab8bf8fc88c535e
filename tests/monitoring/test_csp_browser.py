"""In a real browser, under the Content Security Policy: the calls list, a call's page (player,
waveform, transcript), the audit trail, live calls, Django admin and both API readers load with
no violation reported (neither a ``securitypolicyviolation`` event nor a console refusal)."""

from __future__ import annotations

import pytest

from tests.conftest import CHROMIUM

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "pw-Long-enough-1"
# Runs before any script of the page: CSP does not apply to it.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
}, true);
"""
# Redoc's bundle shows its maker's logo from their CDN: refused on purpose (no asset of another
# host), it is simply left out. The one refusal expected; anything else fails.
REDOC_LOGO = "https://cdn.redoc.ly/"


def _unexpected(reports: list[str]) -> list[str]:
    return [report for report in reports if REDOC_LOGO not in report]


def test_main_pages_raise_no_csp_violation(live_server, make_user, recorded_call, settings) -> None:
    from playwright.sync_api import expect, sync_playwright

    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    make_user("admin", username="ada", password=PASSWORD)
    base = live_server.url
    pages = {
        "/calls/": "Calls",
        f"/calls/{recorded_call.call.pk}/": "CX-2041",
        "/audit/": "Audit trail",
        "/calls/live/": "Live calls",
        "/admin/": "Administration",
        "/api/v1/docs": "ringadmin",
        "/api/v1/redoc": "ringadmin",
    }

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            context.add_init_script(RECORD_VIOLATIONS)
            page = context.new_page()
            console: list[str] = []
            page.on(
                "console",
                lambda message: (
                    console.append(message.text)
                    if "Content Security Policy" in message.text
                    else None
                ),
            )
            page.goto(f"{base}/login/")
            page.get_by_label("Username").fill("ada")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(lambda url: "/login/" not in url)

            for path, text in pages.items():
                response = page.goto(f"{base}{path}")
                assert response is not None
                assert response.status == 200, path
                assert "script-src 'self'" in response.headers["content-security-policy"]
                expect(page.locator("body")).to_contain_text(text)
                page.wait_for_load_state("networkidle")
                violations = _unexpected(page.evaluate("window.__cspViolations"))
                assert violations == [], (path, violations)
            # Swagger UI drew the operations with its script file (no inline start-up script).
            page.goto(f"{base}/api/v1/docs")
            expect(page.locator(".opblock").first).to_be_visible()
            # The call page's player really ran under the policy.
            page.goto(f"{base}/calls/{recorded_call.call.pk}/")
            expect(page.locator("audio, [data-seconds]").first).to_be_attached()
            assert page.evaluate("window.__cspViolations") == []
        finally:
            browser.close()
    assert _unexpected(console) == []
