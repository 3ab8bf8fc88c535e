"""Consent notices and per-call consent records: versions never change once published, the
ingest writes one record at Start (a call without a notice is an exception), the transcript
verifies the key phrase, and ``consent_allows`` answers from the record."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from ringadmin.calls.models import Call
from ringadmin.compliance.consent import (
    MATCH_THRESHOLD,
    NoticeError,
    consent_allows,
    notice_draft,
    notice_publish,
    notice_retire,
    phrase_best_match,
)
from ringadmin.compliance.consent_models import (
    ConsentMethod,
    ConsentNotice,
    ConsentNoticeSeries,
    ConsentOutcome,
    ConsentRecord,
    ConsentVerification,
    NoticeKind,
    NoticeStatus,
)
from ringadmin.compliance.models import AuditEvent, AuditEventType
from streaming.ingest.calls import ingest_call_start
from streaming.models import Transcript
from streaming.transcription.engines.base import Segment, StereoResult
from streaming.transcription.models import TranscriptKind
from streaming.transcription.services import transcript_store
from tests.factories import make_streaming_profile

pytestmark = pytest.mark.django_db

PHRASE = "this call may be recorded for quality and training purposes"


@pytest.fixture
def series() -> ConsentNoticeSeries:
    return ConsentNoticeSeries.objects.create(key="us-sales", name="US sales queues")


def published(series, *, kind=NoticeKind.ANNOUNCEMENT, phrase=PHRASE, window=20, **extra):
    notice = notice_draft(
        series=series,
        kind=kind,
        text=f"Hello, {phrase}.",
        key_phrase=phrase,
        window_seconds=window,
        effective_from=timezone.now() - timedelta(days=1),
        **extra,
    )
    return notice_publish(notice=notice)


def start_call(profile, call_id: str = "c1", **extra):
    values = {
        "ringcx_call_id": call_id,
        "session_id": "1",
        "profile_id": profile.pk,
        "metadata": {"agentId": "agent-7"},
        "handshake": {},
        "owner": "test",
        "recording_path": f"/r/{call_id}.wav",
    }
    return ingest_call_start(**{**values, **extra})


# --- versions ------------------------------------------------------------------------------


def test_publishing_a_new_version_leaves_the_old_one_unchanged(series) -> None:
    v1 = published(series, phrase="calls are recorded")
    before = ConsentNotice.objects.filter(pk=v1.pk).values().get()
    v2 = published(series, phrase="this call is recorded")
    assert (v1.version, v2.version) == (1, 2)
    assert ConsentNotice.objects.filter(pk=v1.pk).values().get() == before
    v1.text = "rewritten"
    with pytest.raises(PermissionError):
        v1.save()
    with pytest.raises(PermissionError):
        ConsentNotice.objects.get(pk=v1.pk).delete()
    assert ConsentNotice.objects.get(pk=v1.pk).text == before["text"]


def test_publish_and_retire_are_audited_and_checked(series) -> None:
    notice = published(series)
    event = AuditEvent.objects.filter(event_type=AuditEventType.CONSENT_NOTICE_PUBLISHED).get()
    assert event.target_id == str(notice.pk)
    assert event.data["key_phrase"] == PHRASE
    with pytest.raises(NoticeError):
        notice_publish(notice=notice)
    retired = notice_retire(notice=notice)
    assert retired.status == NoticeStatus.RETIRED
    assert retired.text == notice.text
    assert AuditEvent.objects.filter(event_type=AuditEventType.CONSENT_NOTICE_RETIRED).exists()
    spoken_without_phrase = notice_draft(
        series=series,
        kind=NoticeKind.ANNOUNCEMENT,
        text="Recorded.",
        effective_from=timezone.now(),
    )
    with pytest.raises(NoticeError, match="key phrase"):
        notice_publish(notice=spoken_without_phrase)


# --- records at Start, through the real ingest path ----------------------------------------


def test_a_call_under_a_notice_gets_a_record_at_start(series) -> None:
    notice = published(series)
    profile = make_streaming_profile()
    profile.consent_notice_series = series
    profile.save()
    result = start_call(profile)
    record = ConsentRecord.objects.get(call=result.call)
    assert record.notice == notice
    assert record.method == ConsentMethod.ANNOUNCEMENT
    assert record.outcome == ConsentOutcome.NOTICE_GIVEN
    assert record.given_by == "system"
    assert record.recording_offset_seconds == 0.0
    assert record.given_at == result.call.started_at
    assert record.verification == ConsentVerification.NOT_CHECKED
    assert consent_allows(call=result.call, purpose="monitor")


def test_a_reconnect_or_resumed_call_keeps_its_one_record(series) -> None:
    published(series)
    profile = make_streaming_profile()
    profile.consent_notice_series = series
    profile.save()
    first = start_call(profile)
    again = start_call(profile)
    resumed = start_call(profile, new_recording=True, recording_path="/r/c1-b.wav")
    assert again.resumed
    assert resumed.resumed
    assert ConsentRecord.objects.filter(call=first.call).count() == 1


def test_a_call_without_a_notice_is_flagged_and_refused(series) -> None:
    profile = make_streaming_profile()  # names no series
    result = start_call(profile)
    record = ConsentRecord.objects.get(call=result.call)
    assert (record.outcome, record.method, record.notice) == (
        ConsentOutcome.NO_NOTICE,
        ConsentMethod.NONE,
        None,
    )
    decision = consent_allows(call=result.call, purpose="record")
    assert not decision
    assert "no notice" in decision.reason


def test_a_series_with_only_retired_or_future_versions_applies_no_notice(series) -> None:
    notice_retire(notice=published(series))
    notice_publish(
        notice=notice_draft(
            series=series,
            kind=NoticeKind.BEEP,
            text="beep",
            effective_from=timezone.now() + timedelta(days=3),
        )
    )
    profile = make_streaming_profile()
    profile.consent_notice_series = series
    profile.save()
    record = ConsentRecord.objects.get(call=start_call(profile).call)
    assert record.outcome == ConsentOutcome.NO_NOTICE


def test_the_newest_version_in_force_applies(series) -> None:
    published(series, phrase="old words here")
    newest = published(series, kind=NoticeKind.VERBAL_CONSENT)
    profile = make_streaming_profile()
    profile.consent_notice_series = series
    profile.save()
    record = ConsentRecord.objects.get(call=start_call(profile).call)
    assert record.notice == newest
    assert (record.method, record.given_by) == (ConsentMethod.VERBAL_CONSENT, "agent")
    assert record.recording_offset_seconds is None  # known only once heard


def test_consent_allows_refuses_unknown_purposes_and_calls_without_record() -> None:
    from tests.factories import CallFactory

    call = CallFactory()
    assert not consent_allows(call=call, purpose="transcribe")
    with pytest.raises(ValueError, match="sell"):
        consent_allows(call=call, purpose="sell")


# --- verification in the transcript --------------------------------------------------------


def _transcribed(call: Call, agent: list[Segment]) -> None:
    transcript = Transcript.objects.create(
        call=call, kind=TranscriptKind.POST_CALL, engine="fake", model="m"
    )
    transcript_store(
        transcript_id=transcript.pk,
        result=StereoResult(agent=agent, caller=[Segment(0.5, 2.0, "hi there")]),
        audio_seconds=60.0,
        processing_seconds=1.0,
    )


@pytest.fixture
def call_under_notice(series):
    published(series, window=20)
    profile = make_streaming_profile()
    profile.consent_notice_series = series
    profile.save()
    return start_call(profile).call


def test_the_key_phrase_heard_early_despite_asr_errors_verifies(call_under_notice) -> None:
    _transcribed(
        call_under_notice,
        [
            Segment(1.0, 3.0, "Thanks for calling Acme."),
            # "may be" misheard as "maybe", "training" as "trainings"
            Segment(3.2, 7.0, "This call maybe recorded for quality and trainings purposes."),
        ],
    )
    record = ConsentRecord.objects.get(call=call_under_notice)
    assert record.verification == ConsentVerification.VERIFIED
    assert record.verification_score >= MATCH_THRESHOLD
    assert record.recording_offset_seconds == pytest.approx(3.2)
    assert consent_allows(call=call_under_notice, purpose="transcribe")


def test_the_key_phrase_too_late_or_absent_is_not_found(call_under_notice) -> None:
    _transcribed(
        call_under_notice,
        [
            Segment(1.0, 4.0, "Hello, how can I help you today?"),
            Segment(45.0, 49.0, PHRASE),  # outside the 20 s window
        ],
    )
    record = ConsentRecord.objects.get(call=call_under_notice)
    assert record.verification == ConsentVerification.NOT_FOUND
    assert not consent_allows(call=call_under_notice, purpose="monitor")


def test_the_caller_saying_the_phrase_does_not_count(call_under_notice) -> None:
    transcript = Transcript.objects.create(
        call=call_under_notice, kind=TranscriptKind.POST_CALL, engine="fake", model="m"
    )
    transcript_store(
        transcript_id=transcript.pk,
        result=StereoResult(agent=[Segment(1.0, 2.0, "Hello")], caller=[Segment(2, 6, PHRASE)]),
        audio_seconds=60.0,
        processing_seconds=1.0,
    )
    assert ConsentRecord.objects.get(call=call_under_notice).verification == "not_found"


def test_a_different_sentence_does_not_match() -> None:
    match = phrase_best_match(
        phrase=PHRASE,
        lines=[(0.0, 5.0, "your account balance is overdue please pay today")],
        window_seconds=30,
    )
    assert match.score < MATCH_THRESHOLD


def test_a_call_that_will_not_be_transcribed_is_marked_no_transcript(series) -> None:
    from ringadmin.calls.models import CallStatus
    from ringadmin.calls.services import call_finalize

    published(series)
    profile = make_streaming_profile()
    profile.consent_notice_series = series
    profile.transcription_engine = "none"
    profile.save()
    call = start_call(profile).call
    call_finalize(
        call_id=call.pk,
        status=CallStatus.COMPLETED,
        ended_at=timezone.now(),
        duration_seconds=30.0,
        stream_stats={},
        end_reason="hangup",
    )
    record = ConsentRecord.objects.get(call=call)
    assert record.verification == ConsentVerification.NO_TRANSCRIPT
