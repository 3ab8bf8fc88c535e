"""The analysis is stored once per call after the call, by a task and by the backfill command."""

from __future__ import annotations

import logging
from io import StringIO

import pytest
from django.core.management import call_command

from ringadmin.calls.models import CallAnalysis, CallStatus
from streaming import tasks
from streaming.audio.analysis import Peaks
from streaming.call_analysis import call_analyse, calls_without_analysis
from tests.factories import CallFactory
from tests.streaming.stereo_signals import stereo, write_stereo_wav

pytestmark = pytest.mark.django_db


@pytest.fixture
def recordings(settings, tmp_path):
    settings.RECORDINGS_DIR = tmp_path / "recordings"
    return settings.RECORDINGS_DIR


def recorded(recordings, name: str, **overrides):
    path = write_stereo_wav(
        recordings / f"{name}.wav", stereo(6, agent=[(0.5, 2.5)], caller=[(3, 5)])
    )
    return CallFactory(recording_path=str(path), **overrides)


def test_the_analysis_is_stored_with_its_waveform(recordings) -> None:
    call = recorded(recordings, "a")
    analysis = call_analyse(call_id=call.pk)
    stored = CallAnalysis.objects.get(call=call)
    assert analysis == stored
    assert stored.audio_seconds == pytest.approx(6.0)
    assert stored.agent_talk_seconds == pytest.approx(2.0, abs=0.04)
    assert stored.caller_talk_seconds == pytest.approx(2.0, abs=0.04)
    assert stored.silence_seconds == pytest.approx(2.0, abs=0.08)
    assert stored.longest_monologue_speaker in ("agent", "caller")
    peaks = Peaks.from_bytes(bytes(stored.peaks))
    assert peaks.buckets == 120
    # running again recomputes the same row
    call_analyse(call_id=call.pk)
    assert CallAnalysis.objects.filter(call=call).count() == 1


def test_nothing_to_analyse_is_not_an_error(recordings, tmp_path, caplog) -> None:
    live = recorded(recordings, "live", status=CallStatus.LIVE)
    no_recording = CallFactory(recording_path="")
    missing = CallFactory(recording_path=str(recordings / "gone.wav"))
    outside_path = tmp_path / "outside.wav"
    outside_path.write_bytes((recordings / "live.wav").read_bytes())
    outside = CallFactory(recording_path=str(outside_path))
    not_wav = CallFactory(recording_path=str(recordings / "junk.wav"))
    (recordings / "junk.wav").write_bytes(b"not a recording at all")
    with caplog.at_level(logging.WARNING):
        for call in (live, no_recording, missing, outside, not_wav):
            assert call_analyse(call_id=call.pk) is None
        assert call_analyse(call_id=999_999) is None
    assert not CallAnalysis.objects.exists()
    assert "cannot be analysed: not a RIFF/WAVE file" in caplog.text
    assert "outside RECORDINGS_DIR" in caplog.text
    assert str(outside_path) not in caplog.text


def test_post_call_work_queues_the_analysis(recordings, monkeypatch) -> None:
    call = recorded(recordings, "b")
    queued = []
    monkeypatch.setattr(tasks.call_analyse_task, "delay", lambda call_id: queued.append(call_id))
    tasks.call_postprocess(call.pk)
    assert queued == [call.pk]
    call.refresh_from_db()
    assert call.stream_stats["recording"]["sha256"]  # the fingerprint still runs first
    tasks.call_analyse_task(call.pk)  # what the worker runs
    assert CallAnalysis.objects.filter(call=call).exists()


def test_backfill_command(recordings) -> None:
    first = recorded(recordings, "one")
    second = recorded(recordings, "two")
    CallFactory(recording_path=str(recordings / "lost.wav"))
    recorded(recordings, "live", status=CallStatus.LIVE)
    assert set(calls_without_analysis().values_list("pk", flat=True)) >= {first.pk, second.pk}

    out = StringIO()
    call_command("calls_analyse", stdout=out, stderr=StringIO())
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"[1/3] call {first.pk}: 6 s of audio analysed in ")
    assert lines[1].startswith(f"[2/3] call {second.pk}: 6 s of audio analysed")
    assert "skipped" in lines[2]
    assert lines[-1] == "2 of 3 call(s) analysed."

    again = StringIO()
    call_command("calls_analyse", "--all", stdout=again)
    assert again.getvalue().splitlines()[-1] == "0 of 1 call(s) analysed."  # only the lost one

    one = StringIO()
    errors = StringIO()
    call_command(
        "calls_analyse", "--call", str(first.pk), "--call", "424242", stdout=one, stderr=errors
    )
    assert one.getvalue().splitlines()[-1] == "1 of 1 call(s) analysed."
    assert "call 424242: no such call" in errors.getvalue()
