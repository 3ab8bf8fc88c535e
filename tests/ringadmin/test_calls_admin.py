"""The call admin stays read-only and shows the stream statistics readably."""

from __future__ import annotations

import html

import pytest

from ringadmin.calls.models import CallStatus
from tests.factories import CallFactory
from tests.streaming.stream_stats_sample import stream_stats

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, make_user):
    client.force_login(make_user("admin"))
    return client


def test_detail_shows_stream_stats_per_perspective_and_the_recording(admin_client) -> None:
    call = CallFactory(stream_stats=stream_stats(), recording_path="2026/11/21/call-1.wav")
    response = admin_client.get(f"/admin/calls/call/{call.pk}/change/")
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert "2026/11/21/call-1.wav" not in page  # a link serves it, the path stays on the server
    assert f'<a href="/calls/{call.pk}/">Call page</a>' in page
    assert f'<a href="/calls/{call.pk}/recording.wav">Recording</a>' in page
    assert "Not analysed yet." in page
    assert '<table class="stream-perspectives">' in page
    assert "<th>gap ms filled</th>" in page
    assert "<tr><td>Participant</td><td>left</td><td>6000</td><td>2</td>" in page
    assert "<tr><td>Conference</td><td>right</td><td>5998</td>" in page
    assert "<th>sequence numbering</th><td>per_perspective</td>" in page
    assert "<td>bad_base64: 1</td>" in page
    assert (
        '<table class="stream-section"><tr><th>format</th><th>channels</th>'
        "<th>sample_rate</th><th>seconds</th>" in page
    )
    assert "<td>wav</td><td>2</td><td>8000</td><td>120.06</td>" in page
    assert "<th>lag (ms)</th><td><table" in page
    assert "<tr><th>p50</th><th>p99</th></tr><tr><td>20</td><td>180</td></tr>" in page
    assert 'name="_save"' not in page


def test_detail_without_stream_stats_says_why(admin_client) -> None:
    call = CallFactory(stream_stats={}, is_demo=True)
    page = admin_client.get(f"/admin/calls/call/{call.pk}/change/").content.decode()
    assert "No stream statistics (a demo call, or nothing received yet)." in page
    assert "stream-perspectives" not in page


def test_partial_stream_stats_do_not_break_the_page(admin_client) -> None:
    call = CallFactory(stream_stats={"perspectives": {"Participant": {"channel": "left"}, "x": 3}})
    page = admin_client.get(f"/admin/calls/call/{call.pk}/change/").content.decode()
    assert "<tr><td>Participant</td><td>left</td><td></td>" in page


def test_calls_stay_read_only(admin_client) -> None:
    call = CallFactory(status=CallStatus.LIVE)
    assert admin_client.get("/admin/calls/call/?status__exact=live").status_code == 200
    assert admin_client.get("/admin/calls/call/add/").status_code == 403
    change = admin_client.post(f"/admin/calls/call/{call.pk}/change/", {"status": "completed"})
    assert change.status_code == 403
    delete = admin_client.post(f"/admin/calls/call/{call.pk}/delete/", {"post": "yes"})
    assert delete.status_code == 403
    call.refresh_from_db()
    assert call.status == CallStatus.LIVE


def test_secrets_stored_in_a_call_row_are_never_shown(admin_client) -> None:
    """Rows written before the ingest masked ``auth`` and ``key`` may hold a secret: the page
    masks what the ingest accepts as a secret, whatever the row holds."""
    call = CallFactory(
        metadata={"ani": "2223334444", "key": "m3tadata-secret", "nested": {"auth": "n3sted"}},
        handshake={"params": {"auth": "h4ndshake-secret", "callId": "c1"}, "client": "1.2.3.4"},
    )
    page = html.unescape(admin_client.get(f"/admin/calls/call/{call.pk}/change/").content.decode())
    for secret in ("m3tadata-secret", "n3sted", "h4ndshake-secret"):
        assert secret not in page
    assert '"ani": "2223334444"' in page
    assert '"callId": "c1"' in page


def test_detail_shows_the_conversation_figures(admin_client) -> None:
    from ringadmin.calls.models import CallAnalysis

    call = CallFactory()
    CallAnalysis.objects.create(
        call=call,
        audio_seconds=60,
        agent_talk_seconds=30.25,
        caller_talk_seconds=20,
        silence_seconds=12,
        overtalk_seconds=2.25,
        longest_monologue_seconds=14,
        longest_monologue_speaker="agent",
        agent_interruptions=1,
        caller_interruptions=3,
    )
    page = admin_client.get(f"/admin/calls/call/{call.pk}/change/").content.decode()
    assert "<th>agent talk (s)</th>" in page
    assert (
        "<td>30.2</td><td>20.0</td><td>12.0</td><td>2.2</td><td>14.0 Agent</td><td>1</td><td>3</td>"
        in page
    )
    assert "No recording." in page
