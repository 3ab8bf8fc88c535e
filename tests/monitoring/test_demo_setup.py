"""``manage.py demo_setup`` (what ``make run`` seeds): demo calls with real speech, recorded by
the ingest's pipeline sample for sample, fingerprinted and transcribed by the real offline
engine through the post-call task; idempotent; and the simulator command it prints."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

from ringadmin.calls.models import Call, CallStatus
from streaming.audio.wav import wav_read_stereo
from streaming.models import Speaker, Transcript, TranscriptKind, TranscriptStatus
from streaming.tools.demo.recording import AUDIO_DIR
from streaming.tools.demo.services import DEMO_CALLS
from streaming.tools.simulator import load_wav
from tests.factories import CallFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings, tmp_path, monkeypatch, django_capture_on_commit_callbacks):
    """Runs demo_setup as make run does, post-call tasks executed (eagerly) on commit."""
    settings.VAR_DIR = tmp_path
    settings.RECORDINGS_DIR = tmp_path / "recordings"
    settings.TRANSCRIPTION_ENGINE = "whisper"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "demo-Password-123")
    for name in ("PORT", "HOST"):
        monkeypatch.delenv(name, raising=False)

    def run() -> str:
        out = io.StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            call_command("demo_setup", stdout=out)
        return out.getvalue()

    return run


def _text(transcript: Transcript, speaker: str) -> str:
    return " ".join(s.text for s in transcript.segments.filter(speaker=speaker)).lower()


def test_demo_calls_are_recorded_through_the_pipeline_and_transcribed(demo) -> None:
    output = demo()
    calls = list(Call.objects.filter(is_demo=True).order_by("ringcx_call_id"))
    assert [c.ringcx_call_id for c in calls] == [spec.call_id for spec in DEMO_CALLS]
    assert "Recorded 2 demo calls" in output
    for call, spec in zip(calls, DEMO_CALLS, strict=True):
        source = load_wav(AUDIO_DIR / spec.audio)
        frames = len(source.left) // 160
        recorded = wav_read_stereo(call.recording_path)
        # Stereo, agent left and caller right, every sample as RingCX would have sent it.
        assert np.array_equal(recorded[:, 0], source.left)
        assert np.array_equal(recorded[:, 1], source.right)
        assert call.status == CallStatus.COMPLETED
        assert call.duration_seconds == pytest.approx(source.duration)
        assert (call.product_type, call.product_id, call.ani) == ("Queue", "1234", spec.ani)
        stats = call.stream_stats
        assert stats["numbering"] == "per_perspective"
        for name in ("Participant", "Conference"):
            leg = stats["perspectives"][name]
            assert (leg["frames_received"], leg["frames_written"]) == (frames, frames)
            assert leg["gaps_filled_frames"] == leg["late_dropped"] == 0
            assert leg["stopped"] is True
        assert stats["recording"]["seconds"] == pytest.approx(source.duration)
        # The post-call task fingerprinted the file.
        digest = hashlib.sha256(Path(call.recording_path).read_bytes()).hexdigest()
        assert stats["recording"]["sha256"] == digest
        transcript = Transcript.objects.get(call=call, kind=TranscriptKind.POST_CALL)
        assert transcript.status == TranscriptStatus.DONE, transcript.error
        assert transcript.engine == "whisper"
        assert _text(transcript, Speaker.AGENT)
        assert _text(transcript, Speaker.CALLER)
    first = Transcript.objects.get(call=calls[0])
    assert "amiable" in _text(first, Speaker.AGENT)
    assert "country" in _text(first, Speaker.CALLER)


def test_running_it_again_changes_nothing(demo) -> None:
    demo()
    before = {c.pk: (c.recording_path, c.stream_stats) for c in Call.objects.filter(is_demo=True)}
    segments = sorted(
        Transcript.objects.values_list("segments__pk", flat=True).order_by("segments__pk")
    )
    files = sorted(p for p in Path(Call.objects.first().recording_path).parents[3].rglob("*"))
    output = demo()
    assert "Recorded" not in output
    after = {c.pk: (c.recording_path, c.stream_stats) for c in Call.objects.filter(is_demo=True)}
    assert after == before
    assert Call.objects.count() == len(DEMO_CALLS)
    assert Transcript.objects.count() == len(DEMO_CALLS)
    assert (
        sorted(Transcript.objects.values_list("segments__pk", flat=True).order_by("segments__pk"))
        == segments
    )
    assert sorted(Path(Call.objects.first().recording_path).parents[3].rglob("*")) == files


def test_a_demo_call_whose_recording_is_lost_is_recorded_again(demo, settings) -> None:
    settings.TRANSCRIPTION_ENGINE = "none"
    demo()
    call = Call.objects.get(ringcx_call_id="demo-1")
    Path(call.recording_path).unlink()
    output = demo()
    assert "Recorded 1 demo calls" in output
    again = Call.objects.get(pk=call.pk)
    assert Path(again.recording_path).is_file()
    assert again.stream_stats["recording"]["seconds"] == pytest.approx(15.4)
    assert Call.objects.count() == len(DEMO_CALLS)


def test_an_installation_with_real_calls_gets_no_demo_calls(demo) -> None:
    CallFactory(ringcx_call_id="real-1")
    demo()
    assert list(Call.objects.values_list("ringcx_call_id", flat=True)) == ["real-1"]


@pytest.mark.parametrize(
    ("server", "environment", "url"),
    [
        ("daphne", {}, "ws://127.0.0.1:8000/"),
        ("daphne", {"PORT": "9000", "HOST": "0.0.0.0"}, "ws://127.0.0.1:9000/"),
        ("uvicorn", {"PORT": "9000"}, "ws://127.0.0.1:9000/"),
        # The fastest ingest listens on a port of its own (manage.py serve starts it there).
        ("websockets", {"PORT": "9000"}, "ws://127.0.0.1:8123/"),
    ],
)
def test_the_printed_simulator_command_points_at_the_ingest(
    demo, settings, monkeypatch, server: str, environment: dict, url: str
) -> None:
    settings.INGEST_SERVER = server
    settings.INGEST_PORT = 8123
    settings.TRANSCRIPTION_ENGINE = "none"
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    output = demo()
    (command,) = re.findall(r"^\s*(\.venv/bin/python manage\.py ringcx_simulate .*)$", output, re.M)
    assert f"--url {url} " in command
    assert command.endswith("--product-type Queue --product-id 1234 --secret demo-Password-123")
