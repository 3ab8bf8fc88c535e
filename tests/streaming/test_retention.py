"""Retention's purge and data-subject requests: content goes, tombstones and audit entries stay,
legal holds win."""

from __future__ import annotations

import json
import os
import tracemalloc
import zipfile
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from ringadmin.calls.models import Call, CallAnalysis
from ringadmin.compliance.legal_holds import legal_hold_release, legal_hold_set
from ringadmin.compliance.models import AuditEvent, CallPurge, PurgeReason
from streaming.retention import (
    PhoneInvalid,
    calls_past_retention,
    dsr_erase,
    dsr_export,
    dsr_find,
    phone_normalize,
    purge_files_remove,
    retention_purge,
)
from streaming.tasks import retention_purge_task
from streaming.transcription.models import Transcript, TranscriptSegment
from tests.factories import CallFactory, make_streaming_profile

pytestmark = pytest.mark.django_db


@pytest.fixture
def recordings(settings, tmp_path) -> Path:
    settings.RECORDINGS_DIR = tmp_path / "recordings"
    settings.RETENTION_DAYS_DEFAULT = 365
    settings.RETENTION_PURGE_BATCH = 100
    settings.RECORDINGS_DIR.mkdir()
    return settings.RECORDINGS_DIR


def call_with_content(recordings: Path, *, days_old: int, **fields) -> Call:
    """A finished call with a recording file, an analysis and a transcript of two turns."""
    call = CallFactory(started_at=timezone.now() - timedelta(days=days_old), **fields)
    path = recordings / f"{call.ringcx_call_id}.wav"
    path.write_bytes(b"RIFF" + bytes(100))
    call.recording_path = str(path)
    call.save()
    CallAnalysis.objects.create(
        call=call,
        audio_seconds=1,
        agent_talk_seconds=0.5,
        caller_talk_seconds=0.5,
        silence_seconds=0,
        overtalk_seconds=0,
        longest_monologue_seconds=0.5,
        peaks=b"\x01\x02",
    )
    transcript = Transcript.objects.create(call=call, kind="post_call", engine="e", model="m")
    for seq, (speaker, text) in enumerate([("agent", "hello"), ("caller", "hi there")]):
        TranscriptSegment.objects.create(
            transcript=transcript, seq=seq, speaker=speaker, start=seq, end=seq + 1, text=text
        )
    return call


def content_left(call: Call) -> tuple[bool, bool, int, str]:
    call.refresh_from_db()
    path = Path(call.recording_path) if call.recording_path else None
    return (
        path is not None and path.exists(),
        CallAnalysis.objects.filter(call=call).exists(),
        Transcript.objects.filter(call=call).count(),
        call.recording_path,
    )


def test_purge_removes_content_of_calls_past_retention_only(recordings) -> None:
    make_streaming_profile(retention_days=30)
    old = call_with_content(recordings, days_old=31)
    old_file = Path(old.recording_path)
    young = call_with_content(recordings, days_old=29)

    report = retention_purge()

    assert report.purged == [old.pk]
    assert content_left(old) == (False, False, 0, "")
    assert not old_file.exists()
    assert content_left(young)[:3] == (True, True, 1)
    purge = CallPurge.objects.get(call=old)
    assert purge.reason == PurgeReason.RETENTION
    assert purge.purged_by_label == "system"
    assert purge.removed["transcripts"] == 1
    assert purge.files_removed_at is not None
    event = AuditEvent.objects.get(event_type="retention.purged")
    assert event.call_id == old.pk
    # The call row and its metadata stay.
    assert Call.objects.filter(pk=old.pk, ani=old.ani, agent_id=old.agent_id).exists()


def test_profile_retention_of_zero_and_calls_of_no_profile_use_the_default(
    recordings, settings
) -> None:
    settings.RETENTION_DAYS_DEFAULT = 10
    make_streaming_profile(retention_days=0)
    of_profile = call_with_content(recordings, days_old=11)
    of_nobody = call_with_content(recordings, days_old=11, product_id="999")
    kept = call_with_content(recordings, days_old=9, product_id="999")

    assert set(calls_past_retention().values_list("pk", flat=True)) == {of_profile.pk, of_nobody.pk}
    assert kept.pk not in retention_purge().purged


def test_purge_skips_calls_under_legal_hold_until_released(recordings, make_user) -> None:
    auditor = make_user("auditor")
    held = call_with_content(recordings, days_old=400)
    hold = legal_hold_set(actor=auditor, reason="litigation 42", call=held)

    assert retention_purge().purged == []
    assert content_left(held)[:3] == (True, True, 1)
    assert not CallPurge.objects.exists()

    legal_hold_release(hold=hold, actor=auditor, reason="case closed")
    assert retention_purge().purged == [held.pk]


def test_filter_hold_catches_matching_calls_only(recordings, make_user) -> None:
    auditor = make_user("auditor")
    now = timezone.now()
    by_agent = call_with_content(recordings, days_old=400, agent_id="77")
    other_agent = call_with_content(recordings, days_old=400, agent_id="12")
    too_old = call_with_content(recordings, days_old=800, agent_id="77")
    legal_hold_set(
        actor=auditor,
        reason="agent 77 dispute",
        agent_id="77",
        product_type="queue",
        product_id="1234",
        started_from=now - timedelta(days=500),
        started_until=now,
    )
    assert sorted(retention_purge().purged) == sorted([other_agent.pk, too_old.pk])
    assert content_left(by_agent)[:3] == (True, True, 1)


def test_phone_hold_matches_ani_or_dnis(recordings, make_user) -> None:
    auditor = make_user("auditor")
    as_caller = call_with_content(recordings, days_old=400, ani="5550001")
    as_dialled = call_with_content(recordings, days_old=400, ani="1", dnis="5550001")
    unrelated = call_with_content(recordings, days_old=400, ani="5550002")
    legal_hold_set(actor=auditor, reason="subpoena", phone="5550001")
    assert retention_purge().purged == [unrelated.pk]
    assert {c.pk for c in (as_caller, as_dialled)}.isdisjoint(
        CallPurge.objects.values_list("call", flat=True)
    )


def test_dry_run_changes_nothing_and_lists_what_would_go(recordings) -> None:
    old = call_with_content(recordings, days_old=400)
    out = StringIO()
    audit_before = AuditEvent.objects.count()

    call_command("retention_purge", "--dry-run", stdout=out)

    assert f"would purge call {old.pk}" in out.getvalue()
    assert content_left(old)[:3] == (True, True, 1)
    assert not CallPurge.objects.exists()
    assert AuditEvent.objects.count() == audit_before


def test_command_purges_in_batches_and_running_twice_is_harmless(recordings) -> None:
    calls = [call_with_content(recordings, days_old=400) for _ in range(3)]
    out = StringIO()
    call_command("retention_purge", "--batch", "2", stdout=out)
    assert "3 call(s) purged." in out.getvalue()
    assert CallPurge.objects.count() == 3
    call_command("retention_purge", stdout=(second := StringIO()))
    assert "0 call(s) purged." in second.getvalue()
    assert AuditEvent.objects.filter(event_type="retention.purged").count() == len(calls)


def test_live_calls_are_never_purged(recordings) -> None:
    call_with_content(recordings, days_old=400, status="live")
    assert retention_purge().purged == []


def test_files_left_by_an_interrupted_purge_are_removed_next_run(recordings) -> None:
    call = call_with_content(recordings, days_old=400)
    leftover = Path(call.recording_path)
    retention_purge()
    leftover.write_bytes(b"came back")  # as if the unlink never happened
    CallPurge.objects.filter(call=call).update(files_removed_at=None)

    report = retention_purge()

    assert report.files_retried == 1
    assert not leftover.exists()
    # And a tombstone whose file is already gone is fine too.
    purge_files_remove(CallPurge.objects.get(call=call))


def test_files_outside_recordings_dir_are_never_deleted(recordings, tmp_path) -> None:
    outside = tmp_path / "elsewhere.wav"
    outside.write_bytes(b"x")
    call = CallFactory(started_at=timezone.now() - timedelta(days=400))
    call.recording_path = str(outside)
    call.save()
    retention_purge()
    assert outside.exists()
    assert CallPurge.objects.filter(call=call).exists()


# --- Data-subject requests --------------------------------------------------------------------


def test_dsr_find_lists_the_numbers_calls(recordings) -> None:
    mine = call_with_content(recordings, days_old=1, ani="+15550100199")
    dialled = call_with_content(recordings, days_old=1, ani="1", dnis="15550100199")
    call_with_content(recordings, days_old=1, ani="999")
    rows = dsr_find(phone="+1 (555) 010-0199")
    assert [row["call"] for row in rows] == sorted([mine.pk, dialled.pk])
    assert rows[0]["transcripts"] == 1
    assert rows[0]["has_recording"] is True


def test_dsr_export_zip_holds_recordings_transcripts_and_manifest(recordings, tmp_path) -> None:
    call = call_with_content(recordings, days_old=1, ani="5550100")
    call_with_content(recordings, days_old=1, ani="777")
    out = tmp_path / "export.zip"

    call_command("dsr", "export", "--phone", "5550100", "--out", str(out), stdout=StringIO())

    with zipfile.ZipFile(out) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert [entry["call"] for entry in manifest["calls"]] == [call.pk]
        entry = manifest["calls"][0]
        (recording,) = entry["recordings"]
        assert archive.read(recording) == Path(call.recording_path).read_bytes()
        (transcript_name,) = entry["transcripts"]
        transcript = json.loads(archive.read(transcript_name))
        assert [s["text"] for s in transcript["segments"]] == ["hello", "hi there"]
        assert set(archive.namelist()) == {"manifest.json", recording, transcript_name}
    assert AuditEvent.objects.filter(event_type="dsr.exported").count() == 1


def test_dsr_erase_keeps_held_calls_and_tombstones_the_rest(recordings, make_user) -> None:
    auditor = make_user("auditor")
    erased = call_with_content(recordings, days_old=1, ani="5550100")
    held = call_with_content(recordings, days_old=1, dnis="5550100")
    legal_hold_set(actor=auditor, reason="court order", call=held)
    out = StringIO()

    call_command(
        "dsr",
        "erase",
        "--phone",
        "5550100",
        "--reason",
        "ticket 9",
        "--by",
        auditor.username,
        stdout=out,
    )

    assert f"kept call {held.pk}: under legal hold" in out.getvalue()
    assert content_left(erased) == (False, False, 0, "")
    assert content_left(held)[:3] == (True, True, 1)
    purge = CallPurge.objects.get(call=erased)
    assert (purge.reason, purge.note, purge.purged_by) == (PurgeReason.ERASURE, "ticket 9", auditor)
    assert AuditEvent.objects.filter(event_type="dsr.erased", call=erased, actor=auditor).exists()
    again = dsr_erase(phone="5550100")
    assert (again.erased, again.already, again.held) == ([], [erased.pk], [held.pk])


def test_dsr_refuses_a_malformed_number() -> None:
    with pytest.raises(CommandError, match="phone number"):
        call_command("dsr", "find", "--phone", "'; drop table", stdout=StringIO())


@given(st.text(max_size=40))
def test_phone_normalize_accepts_only_digits_with_optional_plus(text: str) -> None:
    try:
        number = phone_normalize(text)
    except PhoneInvalid:
        return
    assert number.lstrip("+").isdigit()
    assert number.isascii()
    assert 3 <= len(number.lstrip("+")) <= 20


def test_export_of_an_erased_call_has_the_tombstone_and_no_content(recordings, tmp_path) -> None:
    call = call_with_content(recordings, days_old=1, ani="5550100")
    dsr_erase(phone="5550100")
    manifest = dsr_export(phone="5550100", out=tmp_path / "e.zip")
    (entry,) = manifest["calls"]
    assert (entry["call"], entry["recordings"], entry["transcripts"]) == (call.pk, [], [])
    assert entry["purged"].startswith("erasure")


def test_call_page_of_a_purged_call_says_what_was_removed(recordings, client, make_user) -> None:
    call = call_with_content(recordings, days_old=400)
    retention_purge()
    client.force_login(make_user("auditor"))
    page = client.get(f"/calls/{call.pk}/").content.decode()
    assert "Content removed" in page
    assert "retention period ended" in page


def test_dsr_refuses_an_unknown_handler(recordings) -> None:
    call = call_with_content(recordings, days_old=1, ani="5550100")
    with pytest.raises(CommandError, match="no active user"):
        call_command("dsr", "erase", "--phone", "5550100", "--by", "ghost", stdout=StringIO())
    assert content_left(call)[:3] == (True, True, 1)


def test_export_memory_stays_bounded_for_a_large_recording(recordings, tmp_path) -> None:
    """A 32 MB recording goes into the zip in blocks: Python allocates far less than its size."""
    call = call_with_content(recordings, days_old=1, ani="5550100")
    with Path(call.recording_path).open("wb") as handle:
        for _ in range(32):
            handle.write(os.urandom(1 << 20))
    tracemalloc.start()
    try:
        dsr_export(phone="5550100", out=tmp_path / "big.zip")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * (1 << 20), peak
    with zipfile.ZipFile(tmp_path / "big.zip") as archive:
        (entry,) = json.loads(archive.read("manifest.json"))["calls"]
        assert archive.getinfo(entry["recordings"][0]).file_size == 32 * (1 << 20)


def test_dsr_erase_leaves_a_live_call_alone_and_says_so(recordings) -> None:
    live = call_with_content(recordings, days_old=0, ani="5550100", status="live")
    report = dsr_erase(phone="5550100")
    assert (report.erased, report.live) == ([], [live.pk])
    assert content_left(live)[:3] == (True, True, 1)
    assert not CallPurge.objects.exists()


def test_beat_runs_the_purge_task(recordings, settings) -> None:
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "streaming.retention_purge" in tasks
    call = call_with_content(recordings, days_old=400)
    retention_purge_task()
    assert CallPurge.objects.filter(call=call).exists()
