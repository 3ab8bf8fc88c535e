"""The call page, its recording with HTTP Range, the waveform and the transcript downloads:
who may see what, what is audited, and how many queries a page costs."""

from __future__ import annotations

import html
import json

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ringadmin.calls.models import CallStatus
from ringadmin.compliance.models import AuditEvent, AuditEventType
from tests.factories import CallFactory
from tests.monitoring.conftest import TURNS, add_transcript

pytestmark = pytest.mark.django_db
PAGE = "/calls/{}/"
RECORDING = "/calls/{}/recording.wav"
DOWNLOAD = "/calls/{}/recording/download"


def signed_in(client, user):
    client.force_login(user)
    return client


def events(kind: AuditEventType) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_type=kind).order_by("sequence"))


# --- the page -----------------------------------------------------------------------------------


def test_supervisor_sees_the_call_page(client, make_user, recorded_call) -> None:
    call = recorded_call.call
    supervisor = make_user("supervisor")
    response = signed_in(client, supervisor).get(PAGE.format(call.pk), REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 200
    page = response.content.decode()
    text = html.unescape(page)
    for shown in ("CX-2041", "2223334444", "8005550100", "Queue", "1234", "agent hung up"):
        assert shown in text
    assert f'src="{RECORDING.format(call.pk)}"' in page
    assert 'data-solo="caller" aria-pressed="false"' in page
    assert 'role="slider"' in page
    assert "Download recording" not in page  # supervisors play, they do not download
    for fmt in ("txt", "json", "vtt"):
        assert f"/calls/{call.pk}/transcript.{fmt}" in page
    # transcript turns, escaped; speakers and times
    assert "Hi, my parcel &lt;b&gt;never&lt;/b&gt; arrived &amp; I&#x27;m worried." in page
    assert page.count('class="turn turn-') == 3
    assert 'data-start="3.000"' in page
    # the analysis as readable figures, the stream statistics as tables
    assert "Longest monologue" in page
    assert '<th scope="row">Agent (Participant)</th><td>6000</td>' in page
    assert '<th scope="col">P50</th>' in page
    assert str(recorded_call.path) not in page
    assert "recordings/" not in page
    viewed = events(AuditEventType.CALL_VIEWED)
    assert [(e.actor_id, e.call_id, e.ip_address) for e in viewed] == [
        (supervisor.pk, call.pk, "10.1.2.3")
    ]
    transcript_viewed = events(AuditEventType.TRANSCRIPT_VIEWED)
    assert len(transcript_viewed) == 1
    assert transcript_viewed[0].data == {"kind": "post_call", "engine": "whisper"}


def test_auditor_sees_the_page_but_no_player(client, make_user, recorded_call) -> None:
    call = recorded_call.call
    page = signed_in(client, make_user("auditor")).get(PAGE.format(call.pk)).content.decode()
    assert "You may not play recordings." in page
    assert "<audio" not in page
    assert client.get(RECORDING.format(call.pk)).status_code == 403


def test_a_user_without_view_call_is_refused(client, recorded_call) -> None:
    call = recorded_call.call
    nobody = User.objects.create_user("nobody", password="pw-Long-enough-1")
    signed_in(client, nobody)
    for url in (PAGE, RECORDING, "/calls/{}/peaks.json", "/calls/{}/transcript.txt"):
        assert client.get(url.format(call.pk)).status_code == 403
    assert not AuditEvent.objects.filter(event_type=AuditEventType.CALL_VIEWED).exists()


def test_anonymous_is_sent_to_sign_in(client, recorded_call) -> None:
    call = recorded_call.call
    for url in (PAGE, RECORDING, DOWNLOAD, "/calls/{}/peaks.json", "/calls/{}/transcript.vtt"):
        response = client.get(url.format(call.pk))
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")


def test_an_unknown_call_is_not_found(client, make_user, db) -> None:
    signed_in(client, make_user("supervisor"))
    assert client.get(PAGE.format(987654)).status_code == 404
    assert client.get(RECORDING.format(987654)).status_code == 404


def test_a_call_without_analysis_or_transcript_says_so(client, make_user, db) -> None:
    call = CallFactory(stream_stats={}, is_demo=True)
    page = signed_in(client, make_user("supervisor")).get(PAGE.format(call.pk)).content.decode()
    assert "Not analysed yet" in page
    assert "No transcript for this call." in page
    assert "This call has no recording." in page
    assert "No stream statistics" in page
    assert not AuditEvent.objects.filter(event_type=AuditEventType.TRANSCRIPT_VIEWED).exists()


def test_the_page_costs_the_same_queries_however_long_the_transcript(
    client, make_user, recorded_call
) -> None:
    signed_in(client, make_user("supervisor"))
    short = recorded_call.call
    long = CallFactory(recording_path=short.recording_path, stream_stats=short.stream_stats)
    add_transcript(long, turns=TURNS * 20)
    client.get(PAGE.format(short.pk))  # warm the session and permission caches equally

    counts = []
    for call in (short, long):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(PAGE.format(call.pk)).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
    # session, user, whether a second factor is owed, 2 for permissions, call + analysis +
    # tombstone, transcript, turns, active legal holds, two audit entries (savepoint, lock,
    # last entry, insert, release each), then the session's new idle expiry (savepoint,
    # update, release)
    assert counts[0] == 22


# --- the recording ------------------------------------------------------------------------------


def test_the_whole_recording_and_ranges(client, make_user, recorded_call) -> None:
    call = recorded_call.call
    data = recorded_call.path.read_bytes()
    size = len(data)
    signed_in(client, make_user("supervisor"))
    url = RECORDING.format(call.pk)

    whole = client.get(url)
    assert whole.status_code == 200
    assert b"".join(whole.streaming_content) == data
    assert whole["Content-Length"] == str(size)
    assert whole["Accept-Ranges"] == "bytes"
    assert whole["Content-Type"] == "audio/wav"
    assert whole["Content-Disposition"] == 'inline; filename="call-CX-2041-{}.wav"'.format(
        call.started_at.strftime("%Y%m%d-%H%M%S")
    )
    assert str(recorded_call.path) not in str(whole.headers)

    first = client.get(url, HTTP_RANGE="bytes=0-99")
    assert first.status_code == 206
    assert b"".join(first.streaming_content) == data[:100]
    assert first["Content-Range"] == f"bytes 0-99/{size}"
    assert first["Content-Length"] == "100"

    middle = client.get(url, HTTP_RANGE="bytes=70000-140000")
    assert middle.status_code == 206
    assert b"".join(middle.streaming_content) == data[70000:140001]
    assert middle["Content-Range"] == f"bytes 70000-140000/{size}"

    suffix = client.get(url, HTTP_RANGE="bytes=-500")
    assert b"".join(suffix.streaming_content) == data[-500:]
    assert suffix["Content-Range"] == f"bytes {size - 500}-{size - 1}/{size}"

    for invalid in (f"bytes={size}-", "bytes=9-3", "bytes=abc"):
        refused = client.get(url, HTTP_RANGE=invalid)
        assert refused.status_code == 416
        assert refused["Content-Range"] == f"bytes */{size}"

    several = client.get(url, HTTP_RANGE="bytes=0-1,5-6")
    assert several.status_code == 200
    assert several["Content-Length"] == str(size)


def test_playback_is_audited_once_not_per_range(client, make_user, recorded_call) -> None:
    call = recorded_call.call
    supervisor = make_user("supervisor")
    signed_in(client, supervisor)
    url = RECORDING.format(call.pk)
    client.get(url, HTTP_RANGE="bytes=0-", REMOTE_ADDR="192.0.2.7")
    client.get(url, HTTP_RANGE="bytes=50000-")
    client.get(url, HTTP_RANGE="bytes=90000-99999")
    client.head(url)
    client.get(url, HTTP_RANGE="bytes=999999999-")  # refused: nothing played
    played = events(AuditEventType.RECORDING_PLAYED)
    assert [(e.actor_id, e.call_id, e.ip_address) for e in played] == [
        (supervisor.pk, call.pk, "192.0.2.7")
    ]
    assert not events(AuditEventType.RECORDING_DOWNLOADED)


def test_download_needs_its_permission_and_is_audited(client, make_user, recorded_call) -> None:
    call = recorded_call.call
    signed_in(client, make_user("supervisor"))
    assert client.get(DOWNLOAD.format(call.pk)).status_code == 403
    admin = make_user("admin")
    signed_in(client, admin)
    assert "Download recording" in client.get(PAGE.format(call.pk)).content.decode()
    response = client.get(DOWNLOAD.format(call.pk), REMOTE_ADDR="198.51.100.4")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="call-CX-2041-')
    assert b"".join(response.streaming_content) == recorded_call.path.read_bytes()
    downloaded = events(AuditEventType.RECORDING_DOWNLOADED)
    assert [(e.actor_id, e.ip_address) for e in downloaded] == [(admin.pk, "198.51.100.4")]
    assert not events(AuditEventType.RECORDING_PLAYED)


def test_a_missing_recording_is_a_clear_404(client, make_user, recorded_call) -> None:
    call = recorded_call.call
    recorded_call.path.unlink()
    signed_in(client, make_user("supervisor"))
    response = client.get(RECORDING.format(call.pk))
    assert response.status_code == 404
    assert "Recording not available" in response.content.decode()
    assert not events(AuditEventType.RECORDING_PLAYED)


def test_a_recording_outside_the_recordings_directory_is_never_served(
    client, make_user, recorded_call, tmp_path
) -> None:
    outside = tmp_path / "elsewhere.wav"
    outside.write_bytes(recorded_call.path.read_bytes())
    call = CallFactory(recording_path=str(outside))
    signed_in(client, make_user("supervisor"))
    assert client.get(RECORDING.format(call.pk)).status_code == 404


def test_recording_accepts_only_safe_methods(client, make_user, recorded_call) -> None:
    signed_in(client, make_user("supervisor"))
    assert client.post(RECORDING.format(recorded_call.call.pk)).status_code == 405


# --- waveform and transcript downloads ----------------------------------------------------------


def test_peaks_json(client, make_user, recorded_call) -> None:
    call = recorded_call.call
    signed_in(client, make_user("auditor"))
    payload = client.get(f"/calls/{call.pk}/peaks.json").json()
    assert payload["seconds"] == pytest.approx(10.0)
    assert payload["buckets"] == 200
    assert len(payload["agent"]) == len(payload["caller"]) == 400
    # the agent speaks from 0.5 s: bucket 20 (1.0 s) is loud on the left, quiet on the right
    assert payload["agent"][2 * 20 + 1] > 100
    assert abs(payload["caller"][2 * 20 + 1]) < 5
    unanalysed = CallFactory()
    response = client.get(f"/calls/{unanalysed.pk}/peaks.json")
    assert response.status_code == 404
    assert response.json() == {"error": "This call has not been analysed yet."}


def test_transcript_downloads_are_audited(client, make_user, recorded_call) -> None:
    call = recorded_call.call
    signed_in(client, make_user("auditor"))
    text = client.get(f"/calls/{call.pk}/transcript.txt")
    assert text["Content-Type"] == "text/plain; charset=utf-8"
    assert "[00:00:03] Caller: Hi, my parcel <b>never</b> arrived & I'm worried." in (
        text.content.decode()
    )
    vtt = client.get(f"/calls/{call.pk}/transcript.vtt")
    assert vtt["Content-Type"] == "text/vtt; charset=utf-8"
    assert vtt["Content-Disposition"].startswith('attachment; filename="call-CX-2041-')
    body = vtt.content.decode()
    assert body.startswith("WEBVTT\n")
    assert "00:00:03.000 --> 00:00:05.500\n<v Caller>Hi, my parcel &lt;b&gt;never" in body
    document = json.loads(client.get(f"/calls/{call.pk}/transcript.json").content)
    assert document["call"]["ringcx_call_id"] == "CX-2041"
    assert [t["text"] for t in document["turns"]] == [t[3] for t in TURNS]
    assert client.get(f"/calls/{call.pk}/transcript.pdf").status_code == 404
    formats = [e.data["format"] for e in events(AuditEventType.TRANSCRIPT_DOWNLOADED)]
    assert formats == ["txt", "vtt", "json"]


def test_a_transcript_still_running_is_not_offered(client, make_user, db) -> None:
    call = CallFactory(status=CallStatus.COMPLETED)
    transcript = add_transcript(call)
    transcript.status = "running"
    transcript.save()
    signed_in(client, make_user("supervisor"))
    assert "No transcript for this call." in client.get(PAGE.format(call.pk)).content.decode()
    assert client.get(f"/calls/{call.pk}/transcript.txt").status_code == 404


def test_the_benchmark_command_runs_and_leaves_nothing_behind(settings, tmp_path, db) -> None:
    from io import StringIO

    from django.core.management import call_command

    from ringadmin.calls.models import Call

    settings.RECORDINGS_DIR = tmp_path / "recordings"
    out = StringIO()
    call_command(
        "calls_page_bench", "--seconds", "40", "--requests", "2", stdout=out, stderr=StringIO()
    )
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("recording: 40 s stereo 8 kHz")
    assert lines[2].startswith("call page (HTML): p50 ")
    assert lines[3].startswith("peaks.json: p50 ")
    assert not Call.objects.exists()
    assert not AuditEvent.objects.exists()
    assert not list((tmp_path / "recordings").rglob("*.wav"))
