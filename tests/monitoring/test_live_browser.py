"""Live calls in a real browser: the RingCX simulator streams a two-party call to a real daphne
(pages, browser sockets and the ingest in one process) with a real live transcription worker.
A signed-in supervisor sees the call appear on /calls/live/ with its latest line, watches its
transcript grow on its live page, and sees it end (the row goes, the live page becomes the call
page); the agent iFrame shows the same call's transcript with the profile's key and refuses a
wrong one.

Screenshots go to ``RINGADMIN_SCREENSHOTS_DIR`` when set (the README's come from
``RINGADMIN_SCREENSHOTS_DIR=docs/screenshots``), else to the test's temporary directory.
"""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

from streaming.tools.simulator import SimulationConfig, load_wav, simulate
from tests.conftest import CHROMIUM
from tests.helpers import manage
from tests.streaming.ingest_server import IngestServer, ingest_server_env
from tests.streaming.test_profiles_browser import CHROMIUM_ARGS
from tests.streaming.transcription.conftest import FIXTURES, live_worker  # noqa: F401
from tests.streaming.transcription.test_live_end_to_end import _rows

pytestmark = [pytest.mark.browser, pytest.mark.integration]

PASSWORD = "Supervisor-pw-123456"
CALL_ID = "live-browser-1"


def _screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("RINGADMIN_SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_a_call_appears_grows_and_ends_in_the_browser(tmp_path, live_worker) -> None:  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    audio = load_wav(FIXTURES / "live_dialogue_8k.wav")
    server = IngestServer(
        var_dir=tmp_path,
        env=ingest_server_env(
            tmp_path,
            LIVE_TRANSCRIPTION="true",
            LIVE_TRANSCRIPTION_WORKERS=f"tcp://127.0.0.1:{live_worker.port}",
            LIVE_TRANSCRIPTION_KEY=live_worker.key,
            INGEST_LIVE_DIGEST_SECONDS="0.5",
        ),
    ).setup()
    created = manage(
        "create_user",
        "--role",
        "supervisor",
        "--username",
        "sup",
        "--password-from-env",
        env={**server.env, "RINGADMIN_USER_PASSWORD": PASSWORD},
    )
    assert created.returncode == 0, created.stderr
    ((embed_key,),) = _rows(server, "SELECT embed_key FROM streaming_streamingprofile")
    server.start()
    base = f"http://127.0.0.1:{server.port}"
    shots = _screenshots(tmp_path)
    reports: list = []
    streaming = threading.Thread(
        target=lambda: reports.append(
            asyncio.run(
                simulate(
                    SimulationConfig(
                        url=server.url,
                        calls=1,
                        duration=2 * audio.duration,  # the dialogue twice: the transcript grows
                        audio=audio,
                        secret=server.secret,
                        call_id_prefix="live-browser",
                        agent_id=4321,
                    )
                )
            )
        )
    )
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                supervisor = browser.new_context(viewport={"width": 1200, "height": 640})
                page = supervisor.new_page()
                page.goto(f"{base}/login/?next=/calls/live/")
                page.fill("#id_username", "sup")
                page.fill("#id_password", PASSWORD)
                page.click("button[type=submit]")
                expect(page).to_have_url(f"{base}/calls/live/")
                expect(page.locator("#live-empty")).to_be_visible()

                streaming.start()
                row = page.locator("#live-calls tbody tr")
                expect(row).to_have_count(1, timeout=30_000)  # appeared without a reload
                expect(row.locator("td").first).to_have_text("4321")
                expect(row.locator("meter")).to_have_count(2)
                expect(row.locator("td.latest-line .text")).not_to_be_empty(timeout=60_000)
                page.screenshot(path=str(shots / "live_calls.png"))
                call_pk = row.get_attribute("data-call-id")

                watch = supervisor.new_page()
                watch.goto(f"{base}/calls/{call_pk}/live/")
                lines = watch.locator("#transcript li")
                expect(lines.first).to_be_visible(timeout=60_000)
                first_count = lines.count()
                expect(lines).not_to_have_count(first_count, timeout=60_000)  # it grows

                agent = browser.new_context(viewport={"width": 420, "height": 360})  # no session
                iframe = agent.new_page()
                iframe.goto(f"{base}/client?callId={CALL_ID}&key={embed_key}")
                expect(iframe.locator("#client-status")).to_contain_text(CALL_ID)
                expect(iframe.locator("#transcript li").first).to_be_visible(timeout=60_000)
                iframe.screenshot(path=str(shots / "agent_iframe.png"))
                refused = agent.new_page()
                answer = refused.goto(f"{base}/client?callId={CALL_ID}&key=not-the-key")
                assert answer is not None
                assert answer.status == 403
                expect(refused.locator("#client-problem")).to_contain_text("key is not valid")

                streaming.join(timeout=120)
                assert not streaming.is_alive(), "the simulated call never ended"
                expect(row).to_have_count(0, timeout=30_000)  # ended without a reload
                expect(watch).to_have_url(f"{base}/calls/{call_pk}/", timeout=30_000)
                expect(iframe.locator("#client-status")).to_contain_text(
                    "has ended", timeout=30_000
                )
                heard = iframe.locator("#transcript li").all_inner_texts()
            finally:
                browser.close()
    finally:
        streaming.join(timeout=120)
        server.stop()
    (report,) = reports
    assert all(c.outcome == "accepted" for call in report.calls for c in call.connections)
    assert any("subscription" in line.lower() or "acme" in line.lower() for line in heard), heard
    server.drop_database()
