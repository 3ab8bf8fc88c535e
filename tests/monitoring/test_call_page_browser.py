"""A supervisor opens a call in a real browser: plays it, follows the transcript, seeks from a
turn and from the waveform, and listens to the caller alone.

The page is plain Django (WSGI under ``live_server``): no socket, so no ASGI server is needed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ringadmin.compliance.models import AuditEvent, AuditEventType
from tests.conftest import CHROMIUM
from tests.streaming.test_profiles_browser import CHROMIUM_ARGS, PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "call_page.png"
CURRENT_TURN = (
    "Array.from(document.querySelectorAll('.turn')).findIndex(t => t.classList.contains('current'))"
)


def test_supervisor_plays_a_call_and_follows_the_transcript(
    live_server, make_user, recorded_call, settings
) -> None:
    from playwright.sync_api import expect, sync_playwright

    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    make_user("supervisor", username="sam", password=PASSWORD)
    url = f"{live_server.url}/calls/{recorded_call.call.pk}/"

    # No ORM inside the Playwright block: its event loop would make Django refuse sync queries.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"],
        )
        try:
            # Playwright compiles wait_for_function's predicate inside the page, which the
            # Content Security Policy refuses (no eval); test_csp_browser loads this page under
            # the policy and asserts it raises no violation.
            page = browser.new_page(viewport={"width": 1200, "height": 900}, bypass_csp=True)
            page.goto(f"{live_server.url}/login/?next=/calls/{recorded_call.call.pk}/")
            page.fill("#id_username", "sam")
            page.fill("#id_password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(url)

            turns = page.locator(".turn")
            expect(turns).to_have_count(3)
            expect(page.locator("#player-controls")).to_be_visible()
            expect(page.locator("#waveform-status")).to_have_text("")  # peaks loaded and drawn

            # Play: the clock advances and the highlight follows the turns.
            page.click("#play-toggle")
            expect(page.locator("#play-toggle")).to_have_text("Pause")
            page.wait_for_function("document.getElementById('call-audio').currentTime > 0.6")
            expect(page.locator(".turn").nth(0)).to_have_class("turn turn-agent current")
            page.wait_for_function(f"{CURRENT_TURN} === 1", timeout=15_000)
            expect(page.locator("#play-time")).not_to_have_text("0:00 / 0:10")

            # A click on a turn seeks there.
            turns.nth(2).locator(".turn-text").click()
            seeked_to = page.evaluate("document.getElementById('call-audio').currentTime")
            expect(page.locator(".turn").nth(2)).to_have_class("turn turn-agent current")

            # Solo the caller: the agent's gain is 0, the caller's 1, and the buttons say so.
            page.click("[data-solo=caller]")
            controls = page.locator("#player-controls")
            expect(controls).to_have_attribute("data-agent-gain", "0")
            expect(controls).to_have_attribute("data-caller-gain", "1")
            expect(page.locator("[data-solo=caller]")).to_have_attribute("aria-pressed", "true")
            expect(page.locator("[data-solo=both]")).to_have_attribute("aria-pressed", "false")

            # Keyboard: Home on the waveform, Enter on a turn's time.
            page.click("#play-toggle")  # pause, so positions stay where they were put
            page.focus("#waveform")
            page.keyboard.press("Home")
            at_home = page.evaluate("document.getElementById('call-audio').currentTime")
            page.focus(".turn:nth-child(2) .turn-seek")
            page.keyboard.press("Enter")
            after_enter = page.evaluate("document.getElementById('call-audio').currentTime")
            page.focus("#waveform")
            page.keyboard.press("ArrowRight")
            after_arrow = page.evaluate("document.getElementById('call-audio').currentTime")

            # Search highlights matches as text.
            page.fill("#transcript-search", "parcel")
            expect(page.locator("#search-status")).to_have_text("2 matches in 2 turns")
            expect(page.locator(".turn mark")).to_have_count(2)
            expect(page.locator(".turn-text b")).to_have_count(0)  # "<b>" stayed text

            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.fill("#transcript-search", "")
            page.screenshot(path=str(SCREENSHOT), full_page=True)

            # A matching line's link from the calls list (…/#t=6) opens the call at that moment.
            signed_in = browser.new_context(
                storage_state=page.context.storage_state(), bypass_csp=True
            )
            linked = signed_in.new_page()
            linked.goto(f"{url}#t=6")
            linked.wait_for_function(f"{CURRENT_TURN} === 2")
            expect(linked.locator(".turn").nth(2).locator(".turn-seek")).to_be_focused()
            linked_at = linked.evaluate("document.getElementById('call-audio').currentTime")
        finally:
            browser.close()

    assert 6.0 <= seeked_to < 7.5
    assert at_home == 0
    assert after_enter == pytest.approx(3.0)
    assert after_arrow == pytest.approx(8.0)
    assert linked_at == pytest.approx(6.0)
    played = AuditEvent.objects.filter(event_type=AuditEventType.RECORDING_PLAYED)
    assert played.count() == 1  # the player's range requests are one playback
    # the page was opened twice: signing in, then from the matching line's link
    assert AuditEvent.objects.filter(event_type=AuditEventType.CALL_VIEWED).count() == 2
