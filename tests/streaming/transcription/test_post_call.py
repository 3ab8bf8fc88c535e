"""The post-call transcript: enqueue on finalize, idempotent runs, atomic replacement, the
task's retries, the command and the admin action. The engine here is a deterministic stand-in
(the real engines have their own tests), so these tests check our storage and flow."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.urls import reverse

from ringadmin.calls.models import CallStatus
from ringadmin.calls.services import call_finalize
from streaming.audio import mulaw
from streaming.audio.wav import StereoWavWriter
from streaming.models import Transcript, TranscriptKind, TranscriptSegment, TranscriptStatus
from streaming.transcription import registry
from streaming.transcription.engines.base import (
    EngineInfo,
    EngineUnavailable,
    Segment,
    TranscriptionError,
    Word,
)
from streaming.transcription.post_call import transcription_enqueue
from streaming.transcription.services import call_transcribe
from tests.factories import CallFactory

pytestmark = pytest.mark.django_db


class LoudnessEngine:
    """Says "voice" for every loud stretch of a channel, with its true times."""

    def __init__(self, model: str = "v1", fail: Exception | None = None) -> None:
        self.info = EngineInfo(engine="whisper", model=model)
        self.fail = fail
        self.calls = 0

    def transcribe(self, audio: np.ndarray, *, progress=None) -> list[Segment]:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        loud = np.abs(audio.astype(np.int32)) > 1000
        segments, start = [], None
        for block in range(0, len(audio), 800):  # 100 ms blocks
            voiced = bool(loud[block : block + 800].any())
            if voiced and start is None:
                start = block
            if not voiced and start is not None:
                segments.append(_voice(start / 8000, block / 8000, len(segments)))
                start = None
            if progress is not None:
                progress(block / len(audio))
        if start is not None:
            segments.append(_voice(start / 8000, len(audio) / 8000, len(segments)))
        return segments


def _voice(start: float, end: float, index: int) -> Segment:
    text = f"voice{index}"
    return Segment(start, end, text, 0.9, (Word(start, end, text, 0.9),))


@pytest.fixture
def engine(monkeypatch):
    holder = {"engine": LoudnessEngine()}
    monkeypatch.setattr(registry, "engine_build", lambda name: holder["engine"])
    for module in ("services", "post_call"):
        monkeypatch.setattr(
            f"streaming.transcription.{module}.engine_build", lambda name: holder["engine"]
        )
    return holder


def recorded_call(tmp_path: Path, *, agent: list[tuple[float, float]], caller, seconds=6.0):
    """A call whose stereo recording has tones where each speaker "speaks"."""
    path = tmp_path / "call.wav"
    writer = StereoWavWriter(path)
    total = int(seconds * 8000)
    for channel, spans in ((0, agent), (1, caller)):
        samples = np.zeros(total, dtype=np.int16)
        for start, end in spans:
            t = np.arange(int(start * 8000), int(end * 8000))
            samples[t] = (8000 * np.sin(2 * np.pi * 400 * t / 8000)).astype(np.int16)
        for offset in range(0, total, 160):
            writer.place(channel, offset, mulaw.encode(samples[offset : offset + 160]))
    writer.close()
    return CallFactory(recording_path=str(path), duration_seconds=seconds)


@override_settings(TRANSCRIPTION_ENGINE="whisper")
def test_turns_are_stored_in_time_order_with_speakers_and_word_times(engine, tmp_path) -> None:
    call = recorded_call(tmp_path, agent=[(0.5, 1.5), (4.0, 5.0)], caller=[(2.0, 3.0)])
    outcome = call_transcribe(call_id=call.pk)
    transcript = outcome.transcript
    assert not outcome.skipped
    assert (transcript.status, transcript.progress) == (TranscriptStatus.DONE, 1.0)
    assert transcript.audio_seconds == pytest.approx(6.0, abs=0.03)
    rows = list(transcript.segments.order_by("seq"))
    assert [(r.speaker, r.text) for r in rows] == [
        ("agent", "voice0"),
        ("caller", "voice0"),
        ("agent", "voice1"),
    ]
    assert rows[1].start == pytest.approx(2.0, abs=0.11)
    assert rows[1].end == pytest.approx(3.0, 0.11)
    assert rows[2].words[0]["start"] == pytest.approx(4.0, abs=0.11)


@override_settings(TRANSCRIPTION_ENGINE="whisper")
def test_a_second_run_is_skipped_and_force_replaces_atomically(engine, tmp_path) -> None:
    call = recorded_call(tmp_path, agent=[(0.5, 1.5)], caller=[(2.0, 3.0)])
    first = call_transcribe(call_id=call.pk).transcript
    old_ids = set(first.segments.values_list("id", flat=True))
    again = call_transcribe(call_id=call.pk)
    assert again.skipped
    assert engine["engine"].calls == 2
    forced = call_transcribe(call_id=call.pk, force=True).transcript
    assert forced.pk == first.pk  # one transcript per call, engine and model
    new_ids = set(forced.segments.values_list("id", flat=True))
    assert len(new_ids) == 2
    assert not (new_ids & old_ids)
    # another model version is another transcript beside it
    engine["engine"] = LoudnessEngine(model="v2")
    call_transcribe(call_id=call.pk)
    assert Transcript.objects.filter(call=call, kind=TranscriptKind.POST_CALL).count() == 2


@override_settings(TRANSCRIPTION_ENGINE="whisper")
def test_a_failed_rerun_keeps_the_previous_segments(engine, tmp_path) -> None:
    call = recorded_call(tmp_path, agent=[(0.5, 1.5)], caller=[])
    call_transcribe(call_id=call.pk)
    engine["engine"] = LoudnessEngine(fail=TranscriptionError("model refused"))
    with pytest.raises(TranscriptionError):
        call_transcribe(call_id=call.pk, force=True)
    transcript = Transcript.objects.get(call=call)
    assert transcript.status == TranscriptStatus.FAILED
    assert "model refused" in transcript.error
    assert list(transcript.segments.values_list("text", flat=True)) == ["voice0"]


@override_settings(TRANSCRIPTION_ENGINE="whisper")
def test_readers_never_see_half_a_replacement(engine, tmp_path, transactional_db) -> None:
    """While a rerun replaces segments, a reader sees the old set or the new, never a mix."""
    call = recorded_call(tmp_path, agent=[(0.2, 0.4), (2, 2.2)], caller=[(1, 1.2), (3, 3.2)])
    call_transcribe(call_id=call.pk)
    seen: set[int] = set()
    stop = threading.Event()

    def read() -> None:
        from django.db import connection

        while not stop.is_set():
            seen.add(TranscriptSegment.objects.filter(transcript__call=call).count())
        connection.close()

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(5):
            call_transcribe(call_id=call.pk, force=True)
    finally:
        stop.set()
        reader.join()
    assert seen == {4}


@override_settings(TRANSCRIPTION_ENGINE="whisper")
def test_finalize_queues_the_transcript_with_a_time_limit(
    engine, tmp_path, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    call = recorded_call(tmp_path, agent=[(0.5, 1.5)], caller=[])
    call.status = CallStatus.LIVE
    call.save()
    sent = []
    monkeypatch.setattr(
        "streaming.transcription.tasks.transcribe_call.apply_async", lambda **kw: sent.append(kw)
    )
    monkeypatch.setattr("streaming.tasks.call_postprocess.delay", lambda *a: None)
    with django_capture_on_commit_callbacks(execute=True):
        call_finalize(
            call_id=call.pk,
            status=CallStatus.COMPLETED,
            ended_at=call.started_at,
            duration_seconds=600.0,
            stream_stats={},
            end_reason="done",
        )
    (options,) = sent
    assert options["kwargs"] == {"call_id": call.pk, "engine": "whisper", "force": False}
    assert options["time_limit"] > options["soft_time_limit"] >= 600
    assert Transcript.objects.get(call=call).status == TranscriptStatus.PENDING


def test_no_transcript_when_the_engine_is_none(engine, tmp_path) -> None:
    call = recorded_call(tmp_path, agent=[(0.5, 1.5)], caller=[])
    assert transcription_enqueue(call=call) is None  # the test settings say "none"
    assert not Transcript.objects.exists()


@override_settings(TRANSCRIPTION_ENGINE="whisper", TRANSCRIPTION_MAX_RETRIES=2)
def test_the_task_retries_temporary_failures_only(engine, tmp_path, monkeypatch) -> None:
    from celery.exceptions import Retry

    from streaming.transcription.tasks import transcribe_call

    call = recorded_call(tmp_path, agent=[(0.5, 1.5)], caller=[])
    engine["engine"] = LoudnessEngine(fail=EngineUnavailable("503 from the vendor", retry_after=40))
    countdowns = []

    def fake_retry(*, exc, countdown):
        countdowns.append(countdown)
        return Retry(exc=exc, when=countdown)

    monkeypatch.setattr(transcribe_call, "retry", fake_retry)
    with pytest.raises(Retry):
        transcribe_call.apply(kwargs={"call_id": call.pk}, throw=True).get()
    assert countdowns
    assert countdowns[0] >= 40
    engine["engine"] = LoudnessEngine(fail=TranscriptionError("bad request"))
    countdowns.clear()
    with pytest.raises(TranscriptionError):
        transcribe_call.apply(kwargs={"call_id": call.pk}, throw=True).get()
    assert countdowns == []


@override_settings(TRANSCRIPTION_ENGINE="whisper")
def test_transcribe_command_backfills_missing_and_reports(engine, tmp_path) -> None:
    done = recorded_call(tmp_path / "a", agent=[(0.5, 1.5)], caller=[])
    missing = recorded_call(tmp_path / "b", agent=[(0.5, 1.5)], caller=[(2, 3)])
    call_transcribe(call_id=done.pk)
    out = io.StringIO()
    call_command("transcribe", "--missing", stdout=out, stderr=io.StringIO())
    assert "1 of 1 call(s)" in out.getvalue()
    assert Transcript.objects.get(call=missing).segments.count() == 2
    with pytest.raises(CommandError, match="no call"):
        call_command("transcribe", "--call", "nope", stdout=io.StringIO())


@override_settings(TRANSCRIPTION_ENGINE="whisper")
def test_admin_retranscribe_action_queues_the_calls(
    engine, tmp_path, client, make_user, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    call = recorded_call(tmp_path, agent=[(0.5, 1.5)], caller=[])
    call_transcribe(call_id=call.pk)
    sent = []
    monkeypatch.setattr(
        "streaming.transcription.tasks.transcribe_call.apply_async", lambda **kw: sent.append(kw)
    )
    client.force_login(make_user("admin"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:calls_call_changelist"),
            {"action": "retranscribe", "_selected_action": [call.pk]},
            follow=True,
        )
    assert response.status_code == 200
    assert [kw["kwargs"]["force"] for kw in sent] == [True]
    assert "queued for transcription" in response.content.decode()
    supervisor = make_user("supervisor")
    client.force_login(supervisor)
    response = client.post(
        reverse("admin:calls_call_changelist"),
        {"action": "retranscribe", "_selected_action": [call.pk]},
    )
    assert response.status_code in (302, 403)
    assert len(sent) == 1


@pytest.mark.parametrize("vendor", ["google", "deepgram", "openai"])
def test_hosted_engines_are_built_from_settings_and_transcribe_a_call(tmp_path, vendor) -> None:
    """The settings reach the engine (keys, hosts) and its turns land in the transcript."""
    from tests.doubles.fake_speech import FakeSpeech

    call = recorded_call(tmp_path, agent=[(0.5, 1.5)], caller=[(3.0, 4.0)])
    with FakeSpeech() as fake:
        # OpenAI gets one channel per request: the fake hears the same "mono" script on both
        fake.set_script(agent="thank you for calling", caller="i want to cancel", mono="thank you")
        with override_settings(
            TRANSCRIPTION_ENGINE=vendor,
            GOOGLE_SPEECH_API_KEY=fake.google_api_key,
            GOOGLE_SPEECH_BASE_URL=fake.url,
            DEEPGRAM_API_KEY=fake.deepgram_key,
            DEEPGRAM_BASE_URL=fake.url,
            OPENAI_API_KEY=fake.openai_key,
            OPENAI_BASE_URL=fake.url,
        ):
            transcript = call_transcribe(call_id=call.pk).transcript
        assert fake.requests(vendor), f"nothing reached the fake {vendor}"
    assert transcript.engine == vendor
    rows = list(transcript.segments.order_by("seq"))
    assert [r.speaker for r in rows] == ["agent", "caller"]
    assert rows[0].text.lower().startswith("thank you")
    assert rows[1].start == pytest.approx(3.0, abs=0.3)


def test_a_hosted_engine_without_credentials_says_what_to_set(tmp_path) -> None:
    call = recorded_call(tmp_path, agent=[(0.5, 1.5)], caller=[])
    with (
        override_settings(TRANSCRIPTION_ENGINE="deepgram", DEEPGRAM_API_KEY=""),
        pytest.raises(TranscriptionError, match="DEEPGRAM_API_KEY"),
    ):
        call_transcribe(call_id=call.pk)


@override_settings(TRANSCRIPTION_ENGINE="whisper")
def test_retranscribe_is_offered_in_the_transcripts_list_too(
    engine, tmp_path, client, make_user, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    """Regression: the action asked for the "add" permission, which a read-only admin never
    grants, so it never showed in the Transcripts list."""
    call = recorded_call(tmp_path, agent=[(0.5, 1.5)], caller=[])
    transcript = call_transcribe(call_id=call.pk).transcript
    sent = []
    monkeypatch.setattr(
        "streaming.transcription.tasks.transcribe_call.apply_async", lambda **kw: sent.append(kw)
    )
    client.force_login(make_user("admin"))
    listing = client.get(reverse("admin:streaming_transcript_changelist"))
    assert 'value="retranscribe"' in listing.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:streaming_transcript_changelist"),
            {"action": "retranscribe", "_selected_action": [transcript.pk]},
        )
    assert [kw["kwargs"]["call_id"] for kw in sent] == [call.pk]


# --- no transcript row is left "Queued" or "Transcribing" by a failure -------------------------


@override_settings(TRANSCRIPTION_ENGINE="whisper")
def test_transcribe_command_on_a_call_without_recording_errs_and_leaves_no_row(
    engine, capsys
) -> None:
    """Regression: the command said FAILED but left a transcript row stuck at "Queued"."""
    call = CallFactory(recording_path="")
    with pytest.raises(CommandError, match="1 failed"):
        call_command("transcribe", "--call", str(call.pk), stdout=io.StringIO())
    assert "has no recording" in capsys.readouterr().err
    assert not Transcript.objects.filter(call=call).exists()


@override_settings(TRANSCRIPTION_ENGINE="whisper")
def test_a_live_call_is_not_transcribed_from_its_half_written_recording(engine, tmp_path) -> None:
    call = recorded_call(tmp_path, agent=[(0.5, 1.5)], caller=[])
    call.status = CallStatus.LIVE
    call.save()
    with pytest.raises(TranscriptionError, match="still live"):
        call_transcribe(call_id=call.pk)
    assert engine["engine"].calls == 0
    assert not Transcript.objects.filter(call=call).exists()


@override_settings(TRANSCRIPTION_ENGINE="whisper")
def test_the_task_fails_its_queued_row_when_the_recording_is_gone(
    engine, tmp_path, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    """Queued with a recording, which retention (or a person) removed before the task ran."""
    from streaming.transcription.tasks import transcribe_call

    call = recorded_call(tmp_path, agent=[(0.5, 1.5)], caller=[])
    monkeypatch.setattr(
        "streaming.transcription.tasks.transcribe_call.apply_async", lambda **kw: None
    )
    with django_capture_on_commit_callbacks(execute=True):
        transcript = transcription_enqueue(call=call)
    assert transcript.status == TranscriptStatus.PENDING
    type(call).objects.filter(pk=call.pk).update(recording_path="")
    with pytest.raises(TranscriptionError, match="no recording"):
        transcribe_call.apply(kwargs={"call_id": call.pk}, throw=True).get()
    transcript.refresh_from_db()
    assert transcript.status == TranscriptStatus.FAILED
    assert "no recording" in transcript.error


@override_settings(TRANSCRIPTION_ENGINE="whisper")
def test_the_task_fails_its_queued_row_when_the_engine_cannot_be_built(
    engine, tmp_path, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    """The web process could build the engine; the Celery worker (no model, no key) cannot."""
    from streaming.transcription.engines.base import EngineNotConfigured
    from streaming.transcription.tasks import transcribe_call

    call = recorded_call(tmp_path, agent=[(0.5, 1.5)], caller=[])
    monkeypatch.setattr(
        "streaming.transcription.tasks.transcribe_call.apply_async", lambda **kw: None
    )
    with django_capture_on_commit_callbacks(execute=True):
        transcript = transcription_enqueue(call=call)

    def unbuildable(name):
        raise EngineNotConfigured("the bundled Whisper model is missing")

    monkeypatch.setattr("streaming.transcription.services.engine_build", unbuildable)
    with pytest.raises(EngineNotConfigured):
        transcribe_call.apply(kwargs={"call_id": call.pk}, throw=True).get()
    transcript.refresh_from_db()
    assert transcript.status == TranscriptStatus.FAILED
    assert "model is missing" in transcript.error


@override_settings(TRANSCRIPTION_ENGINE="whisper")
def test_a_missing_recording_file_fails_the_row_with_the_reason(engine, tmp_path) -> None:
    call = recorded_call(tmp_path, agent=[(0.5, 1.5)], caller=[])
    Path(call.recording_path).unlink()
    with pytest.raises(TranscriptionError, match="cannot be read"):
        call_transcribe(call_id=call.pk)
    transcript = Transcript.objects.get(call=call)
    assert transcript.status == TranscriptStatus.FAILED
    assert "No such file" in transcript.error


@pytest.mark.parametrize(
    "failure", [KeyboardInterrupt(), RuntimeError("redactor broke")], ids=["ctrl-c", "store"]
)
@override_settings(TRANSCRIPTION_ENGINE="whisper")
def test_an_interrupted_or_unstorable_run_does_not_stay_transcribing(
    engine, tmp_path, monkeypatch, failure
) -> None:
    call = recorded_call(tmp_path, agent=[(0.5, 1.5)], caller=[])
    if isinstance(failure, KeyboardInterrupt):
        engine["engine"] = LoudnessEngine(fail=failure)
    else:

        def broken_redactor(segments):
            raise failure

        monkeypatch.setattr("streaming.transcription.services.transcript_redact", broken_redactor)
    with pytest.raises(type(failure)):
        call_transcribe(call_id=call.pk)
    transcript = Transcript.objects.get(call=call)
    assert transcript.status == TranscriptStatus.FAILED
    assert transcript.error


@override_settings(TRANSCRIPTION_ENGINE="whisper")
def test_a_hard_time_limit_fails_the_running_row(engine, tmp_path) -> None:
    """Celery kills the process at the hard limit and calls the task's failure hook in the
    parent: the row must not stay "Transcribing"."""
    from celery.exceptions import TimeLimitExceeded

    from streaming.transcription.tasks import transcribe_call

    call = recorded_call(tmp_path, agent=[(0.5, 1.5)], caller=[])
    transcript = Transcript.objects.create(
        call=call,
        kind=TranscriptKind.POST_CALL,
        engine="whisper",
        model="v1",
        status=TranscriptStatus.RUNNING,
    )
    transcribe_call.on_failure(
        TimeLimitExceeded(420), "task-id", (), {"call_id": call.pk, "engine": None}, None
    )
    transcript.refresh_from_db()
    assert transcript.status == TranscriptStatus.FAILED
    assert "time limit" in transcript.error


@override_settings(TRANSCRIPTION_ENGINE="whisper")
def test_admin_retranscribe_with_the_broker_down_says_so_and_leaves_no_queued_row(
    engine, tmp_path, client, make_user, monkeypatch, transactional_db
) -> None:
    """Real commits here: the task is sent when the action's transaction commits."""
    from kombu.exceptions import OperationalError

    call = recorded_call(tmp_path, agent=[(0.5, 1.5)], caller=[])

    def broker_down(**kwargs):
        raise OperationalError("[Errno 111] Connection refused")

    monkeypatch.setattr("streaming.transcription.tasks.transcribe_call.apply_async", broker_down)
    client.force_login(make_user("admin"))
    response = client.post(
        reverse("admin:calls_call_changelist"),
        {"action": "retranscribe", "_selected_action": [call.pk]},
        follow=True,
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "could not be queued" in page
    assert "queued for transcription;" not in page
    transcript = Transcript.objects.get(call=call)
    assert transcript.status == TranscriptStatus.FAILED
    assert "Connection refused" in transcript.error


def test_a_call_recovered_after_an_ingest_crash_does_not_leave_its_live_transcript_running(
    tmp_path,
) -> None:
    """The ingest died mid-call: recovery ends the call, and its live transcript with it."""
    from streaming.recovery import recordings_recover

    call = recorded_call(tmp_path, agent=[(0.5, 1.5)], caller=[])
    call.status = CallStatus.LIVE
    call.ingest_owner = ""  # no owner: orphaned
    call.save()
    live = Transcript.objects.create(
        call=call,
        kind=TranscriptKind.LIVE,
        engine="whisper-live",
        model="tiny.en",
        status=TranscriptStatus.RUNNING,
    )
    (recovered,) = recordings_recover()
    assert recovered.call_id == call.pk
    live.refresh_from_db()
    assert live.status == TranscriptStatus.DONE


# --- Whisper's repetition loops are never stored ------------------------------------------------


class LoopingEngine(LoudnessEngine):
    """What a lost decoder returns: a phrase over and over, or a loop with variations."""

    def transcribe(self, audio: np.ndarray, *, progress=None) -> list[Segment]:
        segments = super().transcribe(audio, progress=progress)
        looped = "How can I help you? " * 34
        varied = "I can tell you can make I can I can I tell you can make I can " * 4
        return [
            Segment(s.start, s.end, (looped if i == 0 else varied).strip(), 0.5)
            for i, s in enumerate(segments)
        ]


@override_settings(TRANSCRIPTION_ENGINE="whisper")
def test_a_looping_engine_output_is_collapsed_or_dropped_before_it_is_stored(
    engine, tmp_path
) -> None:
    engine["engine"] = LoopingEngine()
    call = recorded_call(tmp_path, agent=[(0.5, 1.5), (3.0, 4.0)], caller=[])
    transcript = call_transcribe(call_id=call.pk).transcript
    assert list(transcript.segments.values_list("text", flat=True)) == ["How can I help you?"]


def test_live_finals_with_loops_are_collapsed_or_dropped_before_they_are_stored() -> None:
    from streaming.transcription.services import live_transcript_append_many, live_transcript_lines

    call = CallFactory(status=CallStatus.LIVE)
    line = {"speaker": "agent", "start": 1.0, "end": 4.0, "words": [], "is_final": True}
    live_transcript_append_many(
        lines_by_call={
            call.pk: [
                {**line, "seq": 1, "text": "Thank you for calling. " + "Can I help you? " * 34},
                {**line, "seq": 2, "text": "you can make I can I can I tell you can make " * 3},
                {**line, "seq": 3, "text": "Bye."},
            ]
        }
    )
    assert [x["text"] for x in live_transcript_lines(call_id=call.pk)] == [
        "Thank you for calling. Can I help you?",
        "Bye.",
    ]
