"""In a real browser: a supervisor filters and searches calls and sees the matching line; an
auditor filters the audit trail and downloads the JSON Lines export of exactly that filter.
Screenshots of both pages are saved under docs/screenshots/."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ringadmin.calls.models import CallStatus
from ringadmin.compliance.audit import audit_record
from ringadmin.compliance.models import AuditEventType
from tests.conftest import CHROMIUM
from tests.monitoring.call_data import add_analysis, add_transcript, make_call

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
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
NOW = datetime.now(UTC).replace(microsecond=0)

LINES = [
    [
        ("agent", 1.0, "Thank you for calling, this is Sam."),
        ("caller", 5.0, "Hi, my router keeps dropping the connection."),
    ],
    [
        ("agent", 2.0, "How can I help today?"),
        ("caller", 6.0, "I'd like a refund for last month's bill."),
        ("agent", 14.0, "Our refund policy covers that."),
    ],
    [("caller", 3.0, "Can I change my delivery address?")],
    [("agent", 1.0, "Good morning."), ("caller", 42.0, "The refund never arrived on my card.")],
]


def _seed_calls() -> None:
    agents = ["1017", "1017", "2044", "2044", "3090", "1017"]
    for i in range(12):
        call = make_call(
            NOW - timedelta(minutes=37 * i),
            agent_id=agents[i % len(agents)],
            ani=f"+1415555{1000 + i}",
            dnis="+18005550100" if i % 3 else "+18005550199",
            product_type="Queue" if i % 4 else "Campaign",
            product_id="1234" if i % 4 else "77",
            status=CallStatus.LIVE if i == 0 else CallStatus.COMPLETED,
            duration_seconds=None if i == 0 else 60.0 + 41 * i,
            recording_path=f"2025/calls/{i}.wav" if i != 5 else "",
        )
        if i:
            add_analysis(
                call,
                agent_talk_seconds=30.0 + 9 * i,
                caller_talk_seconds=20.0 + 5 * i,
                overtalk_seconds=float(i % 5) * 2,
                longest_monologue_seconds=15.0 + 4 * i,
                agent_interruptions=i % 3,
                caller_interruptions=i % 2,
            )
        if i % 6 != 5:
            add_transcript(call, LINES[i % len(LINES)])


def _sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_supervisor_searches_and_auditor_exports(
    live_server, make_user, settings, tmp_path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    make_user("supervisor", username="sam", password=PASSWORD)
    make_user("auditor", username="alex", password=PASSWORD)
    _seed_calls()
    for _ in range(3):
        audit_record(event_type=AuditEventType.CALL_VIEWED, data={"from": "the browser test"})
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    # No ORM inside the Playwright block: its event loop would make Django refuse sync queries.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1280, "height": 900}, accept_downloads=True
            )
            page = context.new_page()
            _sign_in(page, live_server.url, "sam")
            expect(page.get_by_role("heading", name="Calls", exact=True)).to_be_visible()
            expect(page.locator("tr.call-row")).to_have_count(12)
            expect(page.get_by_role("link", name="Calls", exact=True)).to_have_attribute(
                "aria-current", "page"
            )

            page.get_by_label("Agent id").fill("1017")
            page.get_by_role("button", name="Apply filters").click()
            expect(page.locator("tr.call-row")).to_have_count(6)
            expect(page.locator("#result-count")).to_contain_text("6 calls match these filters")

            page.get_by_label("Search transcripts").fill("refunds")
            page.get_by_role("button", name="Apply filters").click()
            matches = page.locator("tr.match-row")
            expect(matches).to_have_count(2)  # agent 1017's calls 1 and 7 mention a refund
            expect(matches.first.locator("mark")).to_have_text("refund")
            matched_text = matches.first.locator("q.matched-line").inner_text()
            timestamp_href = matches.first.locator("a.timestamp").get_attribute("href")

            page.get_by_label("Agent id").fill("")
            page.get_by_role("button", name="Apply filters").click()
            expect(page.locator("tr.match-row")).to_have_count(4)
            page.screenshot(path=str(SCREENSHOTS / "calls_list.png"), full_page=True)

            # the keyboard reaches the skip link first
            page.keyboard.press("Tab")
            expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
            context.close()

            context = browser.new_context(
                viewport={"width": 1280, "height": 900}, accept_downloads=True
            )
            page = context.new_page()
            _sign_in(page, live_server.url, "alex")
            expect(page.get_by_role("heading", name="Audit trail", exact=True)).to_be_visible()
            page.get_by_label("Event").select_option("call.viewed")
            page.get_by_role("button", name="Apply filters").click()
            rows = page.locator("table tbody tr")
            expect(rows).to_have_count(3)
            page.screenshot(path=str(SCREENSHOTS / "audit.png"), full_page=True)
            with page.expect_download() as download_info:
                page.get_by_role("link", name="JSON Lines").click()
            download = download_info.value
            saved = tmp_path / download.suggested_filename
            download.save_as(saved)
            context.close()
        finally:
            browser.close()

    assert matched_text == "I'd like a refund for last month's bill."
    assert timestamp_href is not None
    assert timestamp_href.endswith("/#t=6")
    assert saved.suffix == ".jsonl"
    lines = [json.loads(line) for line in saved.read_text().splitlines()]
    *records, proof = lines  # the export ends with the chain proof of its range
    assert set(proof) == {"chain_proof"}
    assert len(records) == 3
    assert {r["event_type"] for r in records} == {"call.viewed"}
    assert all(r["data"] == {"from": "the browser test"} for r in records)
