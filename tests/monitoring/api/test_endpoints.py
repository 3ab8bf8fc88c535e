"""What each endpoint returns: filters, cursor pages, the call's readable statistics, transcripts
as JSON and WebVTT, Range on recordings, the audit trail, and an audit entry for every read."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring.api.pagination import CallCursorPagination
from ringadmin.calls.models import CallStatus
from ringadmin.compliance.audit import audit_chain_verify, audit_record
from ringadmin.compliance.models import AuditEvent, AuditEventType
from tests.factories import CallFactory
from tests.monitoring.api.conftest import CLIENT_IP

pytestmark = pytest.mark.django_db


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def _all_pages(client, url: str) -> list[int]:
    ids: list[int] = []
    while url:
        body = client.get(url).json()
        ids += [row["id"] for row in body["results"]]
        url = body["next"]
    return ids


# --- calls list ----------------------------------------------------------------------------------


def test_calls_list_filters_by_the_pages_parameters(api_client_for):
    day = datetime(2026, 3, 10, 12, tzinfo=UTC)
    match = CallFactory(
        started_at=day, agent_id="501", ani="+4915112345678", dnis="8005550100", status="completed"
    )
    earlier = CallFactory(started_at=day - timedelta(days=2), agent_id="501", ani="+4915112345678")
    CallFactory(started_at=day, agent_id="502", ani="+4915112345678")
    CallFactory(started_at=day, agent_id="501", ani="+3312345", status=CallStatus.INCOMPLETE)
    client = api_client_for("supervisor")
    params = {
        "from": "2026-03-10",
        "to": "2026-03-10",
        "agent": "501",
        "caller": "+4915112345678",
        "dialled": "8005550100",
        "status": "completed",
    }
    assert _ids(client.get("/api/v1/calls/", params)) == [match.pk]
    # The calls page's parameters and meaning: numbers exactly, dates as whole days.
    assert _ids(client.get("/api/v1/calls/", {"caller": "4915112"})) == []
    assert _ids(client.get("/api/v1/calls/", {"to": "2026-03-08"})) == [earlier.pk]
    assert _ids(client.get("/api/v1/calls/", {"to": "2026-03-07"})) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "bogus"}, "status"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-02-30"}, "to"),
        ({"from": "0001-01-01"}, "from"),
        ({"from": "2026-03-10", "to": "2026-03-01"}, "to"),
        ({"caller": "12; DROP TABLE"}, "caller"),
        ({"dialled": "1" * 65}, "dialled"),
        ({"agent": "a\x00b"}, "agent"),
    ],
)
def test_a_bad_filter_is_a_400_naming_it(api_client_for, params, field):
    response = api_client_for("supervisor").get("/api/v1/calls/", params)
    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_calls_are_paged_by_cursor_without_gaps_or_repeats(api_client_for):
    same_instant = datetime(2026, 3, 10, 12, tzinfo=UTC)
    calls = [CallFactory(started_at=same_instant) for _ in range(3)]
    calls += [CallFactory(started_at=same_instant - timedelta(minutes=i)) for i in range(1, 5)]
    client = api_client_for("auditor")
    first = client.get("/api/v1/calls/", {"page_size": 2}).json()
    assert len(first["results"]) == 2
    assert "cursor=" in first["next"]
    assert first["previous"] is None
    ids = _all_pages(client, "/api/v1/calls/?page_size=2")
    assert sorted(ids) == sorted(c.pk for c in calls)
    assert len(ids) == len(set(ids))
    # Newest first; calls of the same instant by id, newest first.
    assert ids[:3] == sorted((c.pk for c in calls[:3]), reverse=True)


def test_the_page_size_is_capped(api_client_for, monkeypatch):
    monkeypatch.setattr(CallCursorPagination, "max_page_size", 3)
    for _ in range(5):
        CallFactory()
    assert len(_ids(api_client_for("supervisor").get("/api/v1/calls/?page_size=1000"))) == 3


@pytest.mark.parametrize("cursor", [base64.b64encode(b"o=abc").decode(), "cj14"])
def test_a_forged_cursor_is_a_404_not_an_error(api_client_for, cursor):
    response = api_client_for("supervisor").get("/api/v1/calls/", {"cursor": cursor})
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid cursor", "code": "not_found"}


def _list_queries(client, count: int) -> int:
    for _ in range(count):
        CallFactory()
    client.get("/api/v1/calls/")  # token use recorded once a minute: not in the figure
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/calls/", {"page_size": 100})
    assert len(response.json()["results"]) >= count
    return len(queries)


def test_the_list_costs_the_same_queries_for_5_or_50_calls(api_client_for):
    client = api_client_for("supervisor")
    five = _list_queries(client, 5)
    fifty = _list_queries(client, 45)
    assert five == fifty, (five, fifty)
    assert five <= 6  # token+user, permissions (2), the page; no query per call


# --- call detail ---------------------------------------------------------------------------------


def test_call_detail_has_readable_stats_analysis_and_transcripts(api_client_for, recorded_call):
    client = api_client_for("supervisor")
    body = client.get(f"/api/v1/calls/{recorded_call.pk}/").json()
    assert body["id"] == recorded_call.pk
    assert body["has_recording"] is True
    stats = body["stream_stats"]
    assert [leg["leg"] for leg in stats["legs"]] == ["Participant", "Conference"]
    assert [leg["side"] for leg in stats["legs"]] == ["agent", "caller"]
    assert stats["legs"][1]["frames_received"] == 5998
    assert list(stats["legs"][0])[:4] == ["leg", "side", "channel", "frames_received"]
    assert stats["recording"]["seconds"] == 120.06
    assert stats["errors"] == {"bad_base64": 1}
    assert stats["lag_ms"] == {"p50": 20, "p99": 180}
    assert body["analysis"]["caller_interruptions"] == 1
    assert body["analysis"]["longest_monologue_speaker"] == "agent"
    assert [t["id"] for t in body["transcripts"]] == [recorded_call.transcript.pk]
    assert body["transcript_url"].endswith(f"/api/v1/calls/{recorded_call.pk}/transcript")
    assert body["recording_url"].endswith(f"/api/v1/calls/{recorded_call.pk}/recording")


def test_a_call_without_statistics_or_analysis(api_client_for):
    call = CallFactory(stream_stats={})
    body = api_client_for("auditor").get(f"/api/v1/calls/{call.pk}/").json()
    assert body["stream_stats"] == {}
    assert body["analysis"] is None
    assert body["has_recording"] is False


def test_viewing_a_call_is_audited(api_client_for, recorded_call):
    client = api_client_for("auditor")
    client.get(f"/api/v1/calls/{recorded_call.pk}/", HTTP_USER_AGENT="report-bot/2.1")
    event = AuditEvent.objects.get(event_type=AuditEventType.CALL_VIEWED)
    assert (event.actor_id, event.call_id, event.ip_address, event.user_agent) == (
        client.user.pk,
        recorded_call.pk,
        CLIENT_IP,
        "report-bot/2.1",
    )


# --- transcript ----------------------------------------------------------------------------------


def test_transcript_as_json_segments(api_client_for, recorded_call):
    body = api_client_for("supervisor").get(f"/api/v1/calls/{recorded_call.pk}/transcript").json()
    assert body["id"] == recorded_call.transcript.pk
    assert body["call"] == recorded_call.pk
    assert [(s["speaker"], s["start"], s["end"]) for s in body["segments"]] == [
        ("agent", 0.0, 1.5),
        ("caller", 1.6, 3.25),
        ("agent", 3.5, 61.0),
    ]
    assert all(s["redactions"] == [] for s in body["segments"])  # kind, offsets, time when any


VTT = """WEBVTT

1
00:00:00.000 --> 00:00:01.500
<v Agent>Thank you for calling, how can I help?

2
00:00:01.600 --> 00:00:03.250
<v Caller>My order &lt;42&gt; never arrived &amp; I'm upset

3
00:00:03.500 --> 00:01:01.000
<v Agent>Let me check that --&gt; for you.
"""


@pytest.mark.parametrize("how", ["query", "accept"])
def test_transcript_as_webvtt(api_client_for, recorded_call, how):
    client = api_client_for("supervisor")
    url = f"/api/v1/calls/{recorded_call.pk}/transcript"
    if how == "query":
        response = client.get(url, {"format": "vtt"})
    else:
        response = client.get(url, HTTP_ACCEPT="text/vtt")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/vtt; charset=utf-8"
    assert response.content.decode() == VTT


def test_transcript_errors_are_json_even_when_vtt_was_asked(api_client_for):
    call = CallFactory()
    response = api_client_for("supervisor").get(
        f"/api/v1/calls/{call.pk}/transcript", {"format": "vtt"}
    )
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"] == "This call has no transcript yet."


@pytest.mark.parametrize("value", ["abc", "-1", "1" * 30, "١٢"])
def test_a_bad_transcript_id_is_a_400(api_client_for, recorded_call, value):
    response = api_client_for("supervisor").get(
        f"/api/v1/calls/{recorded_call.pk}/transcript", {"transcript": value}
    )
    assert response.status_code == 400
    assert list(response.json()) == ["transcript"]


def test_a_transcript_of_another_call_is_not_served(api_client_for, recorded_call):
    other = CallFactory()
    response = api_client_for("supervisor").get(
        f"/api/v1/calls/{other.pk}/transcript", {"transcript": recorded_call.transcript.pk}
    )
    assert response.status_code == 404


def test_each_transcript_read_is_audited_with_user_and_address(api_client_for, recorded_call):
    client = api_client_for("auditor")
    client.get(f"/api/v1/calls/{recorded_call.pk}/transcript")
    client.get(f"/api/v1/calls/{recorded_call.pk}/transcript?format=vtt")
    events = AuditEvent.objects.filter(event_type=AuditEventType.TRANSCRIPT_VIEWED).order_by(
        "sequence"
    )
    assert [(e.actor_id, e.call_id, e.ip_address, e.data["format"]) for e in events] == [
        (client.user.pk, recorded_call.pk, CLIENT_IP, "json"),
        (client.user.pk, recorded_call.pk, CLIENT_IP, "vtt"),
    ]
    assert events[0].target_id == str(recorded_call.transcript.pk)
    assert audit_chain_verify().ok


# --- recording -----------------------------------------------------------------------------------


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_recording_whole(api_client_for, recorded_call):
    response = api_client_for("supervisor").get(f"/api/v1/calls/{recorded_call.pk}/recording")
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/wav"
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Disposition"] == f'inline; filename="call-{recorded_call.pk}.wav"'
    assert int(response["Content-Length"]) == len(recorded_call.recording_bytes)
    assert _body(response) == recorded_call.recording_bytes


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=0-99", 0, 99), ("bytes=100-", 100, None), ("bytes=-44", -44, None)],
)
def test_recording_range(api_client_for, recorded_call, header, start, end):
    data = recorded_call.recording_bytes
    response = api_client_for("supervisor").get(
        f"/api/v1/calls/{recorded_call.pk}/recording", HTTP_RANGE=header, HTTP_ACCEPT="audio/*"
    )
    expected = data[start : None if end is None else end + 1]
    first = start % len(data)
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {first}-{first + len(expected) - 1}/{len(data)}"
    assert int(response["Content-Length"]) == len(expected)
    assert _body(response) == expected


def test_recording_range_outside_the_file_is_416_and_not_audited(api_client_for, recorded_call):
    size = len(recorded_call.recording_bytes)
    response = api_client_for("supervisor").get(
        f"/api/v1/calls/{recorded_call.pk}/recording", HTTP_RANGE=f"bytes={size}-"
    )
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{size}"
    assert not AuditEvent.objects.filter(event_type=AuditEventType.RECORDING_PLAYED).exists()


def test_each_playback_is_audited_once_not_each_range_a_player_asks_for(
    api_client_for, recorded_call
):
    client = api_client_for("supervisor")
    client.get(f"/api/v1/calls/{recorded_call.pk}/recording")
    client.get(f"/api/v1/calls/{recorded_call.pk}/recording", HTTP_RANGE="bytes=0-9")
    client.get(f"/api/v1/calls/{recorded_call.pk}/recording", HTTP_RANGE="bytes=100-")
    events = AuditEvent.objects.filter(event_type=AuditEventType.RECORDING_PLAYED).order_by(
        "sequence"
    )
    size = len(recorded_call.recording_bytes)
    assert [(e.actor_id, e.call_id, e.ip_address, e.data["range"]) for e in events] == [
        (client.user.pk, recorded_call.pk, CLIENT_IP, ""),
        (client.user.pk, recorded_call.pk, CLIENT_IP, f"bytes 0-9/{size}"),
    ]


def test_a_recording_row_pointing_outside_the_recordings_folder_is_not_served(
    api_client_for, recorded_call, settings, tmp_path
):
    settings.RECORDINGS_DIR = tmp_path / "elsewhere"
    response = api_client_for("supervisor").get(f"/api/v1/calls/{recorded_call.pk}/recording")
    assert response.status_code == 404


def test_downloading_needs_the_download_permission(api_client_for, recorded_call):
    url = f"/api/v1/calls/{recorded_call.pk}/recording?download=1"
    refused = api_client_for("supervisor").get(url)
    assert refused.status_code == 403
    admin = api_client_for("admin")
    response = admin.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    event = AuditEvent.objects.get(event_type=AuditEventType.RECORDING_DOWNLOADED)
    assert (event.actor_id, event.ip_address) == (admin.user.pk, CLIENT_IP)


def test_a_call_whose_file_is_gone_has_no_recording(api_client_for, recorded_call):
    from pathlib import Path

    Path(recorded_call.recording_path).unlink()
    response = api_client_for("supervisor").get(f"/api/v1/calls/{recorded_call.pk}/recording")
    assert response.status_code == 404
    assert response.json()["detail"] == "This call has no recording."


# --- audit trail ---------------------------------------------------------------------------------


def test_audit_events_filtered_and_paged(api_client_for, recorded_call, make_user):
    someone = make_user("supervisor", username="someone")
    call_id = recorded_call.pk
    audit_record(event_type=AuditEventType.RECORDING_PLAYED, actor=someone, call_id=call_id)
    audit_record(event_type=AuditEventType.RECORDING_PLAYED, actor=someone)
    audit_record(event_type=AuditEventType.AUDIT_EXPORTED, actor=someone, call_id=call_id)
    client = api_client_for("auditor")
    url = "/api/v1/audit-events/"
    rows = client.get(url, {"event_type": "recording.played", "actor": "someone"}).json()
    assert [r["call"] for r in rows["results"]] == [None, recorded_call.pk]
    by_call = client.get(url, {"call": recorded_call.pk}).json()["results"]
    assert [r["event_type"] for r in by_call] == ["audit.exported", "recording.played"]
    assert client.get(url, {"from": "2000-01-01", "to": "2000-01-02"}).json()["results"] == []
    sequences = []
    next_url = f"{url}?page_size=2"
    while next_url:
        body = client.get(next_url).json()
        sequences += [r["sequence"] for r in body["results"]]
        next_url = body["next"]
    assert sequences == sorted(AuditEvent.objects.values_list("sequence", flat=True), reverse=True)


@pytest.mark.parametrize(
    ("params", "field"),
    [({"event_type": "nope"}, "event_type"), ({"call": "x1"}, "call"), ({"from": "1"}, "from")],
)
def test_a_bad_audit_filter_is_a_400(api_client_for, params, field):
    response = api_client_for("auditor").get("/api/v1/audit-events/", params)
    assert response.status_code == 400
    assert list(response.json()) == [field]
