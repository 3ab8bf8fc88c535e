"""Redaction on every path that stores or shows transcript text, and the unredacted text's
setting, permission and audit."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import override_settings

from ringadmin.calls.models import CallStatus
from ringadmin.compliance.models import AuditEvent, AuditEventType
from ringadmin.compliance.roles import Role, intended_permissions
from streaming.ingest.transcript_results import LiveTranscripts, LiveTranscriptState
from streaming.models import (
    Transcript,
    TranscriptKind,
    TranscriptSegment,
    TranscriptStatus,
    UnredactedSegment,
)
from streaming.transcription.engines.base import Segment, StereoResult, Word
from streaming.transcription.exports import transcript_json, transcript_text, transcript_webvtt
from streaming.transcription.redaction import MARKERS
from streaming.transcription.services import (
    live_transcript_append_many,
    live_transcript_lines,
    transcript_store,
    transcript_unredacted_text,
)
from tests.factories import CallFactory

pytestmark = pytest.mark.django_db
CARD = MARKERS["card"]
CVV = MARKERS["cvv"]


def spoken(start: float, text: str) -> Segment:
    words = tuple(
        Word(start=start + n * 0.3, end=start + n * 0.3 + 0.25, text=w)
        for n, w in enumerate(text.split())
    )
    return Segment(start=start, end=words[-1].end, text=text, words=words)


def stored_call() -> Transcript:
    """A call where the caller gives a card number in two turns, the agent reads part of it
    back, and the caller gives the security code."""
    call = CallFactory(status=CallStatus.COMPLETED)
    transcript = Transcript.objects.create(
        call=call, kind=TranscriptKind.POST_CALL, engine="whisper", model="v1"
    )
    result = StereoResult(
        agent=[
            spoken(10.0, "go ahead"),
            spoken(14.6, "mm-hmm"),
            spoken(20.0, "that ends in oh three four three six four six seven right"),
            spoken(30.0, "and the security code"),
        ],
        caller=[
            spoken(12.0, "four five three nine one four eight eight"),
            spoken(15.5, "oh three four three six four six seven"),
            spoken(25.0, "yes"),
            spoken(32.0, "seven three one"),
        ],
    )
    return transcript_store(
        transcript_id=transcript.pk, result=result, audio_seconds=40.0, processing_seconds=1.0
    )


def texts(transcript: Transcript) -> list[str]:
    return list(transcript.segments.order_by("start").values_list("text", flat=True))


def test_post_call_transcripts_are_stored_redacted_on_both_speakers() -> None:
    transcript = stored_call()
    assert texts(transcript) == [
        "go ahead",
        CARD,
        "mm-hmm",
        CARD,
        f"that ends in {CARD} right",
        "yes",
        "and the security code",
        CVV,
    ]
    card = transcript.segments.get(start=12.0)
    assert card.redactions == [
        {"kind": "card", "start": 0, "end": len(CARD), "time_start": 12.0, "time_end": 14.35}
    ]
    assert [w["text"] for w in card.words] == [CARD]
    stored = " ".join(str(row) for row in TranscriptSegment.objects.values_list("words", "text"))
    assert "four five" not in stored
    assert "six four" not in stored
    assert "seven" not in stored
    assert not UnredactedSegment.objects.exists()  # the setting is off by default


@override_settings(TRANSCRIPT_STORE_UNREDACTED=True)
def test_unredacted_text_is_kept_when_allowed_and_read_only_with_the_permission(
    make_user,
) -> None:
    transcript = stored_call()
    assert UnredactedSegment.objects.count() == 4  # only the segments that had redactions
    admin = make_user("admin")
    with pytest.raises(PermissionError):
        transcript_unredacted_text(user=admin, transcript=transcript)
    assert not AuditEvent.objects.filter(data__unredacted=True).exists()

    admin.user_permissions.add(Permission.objects.get(codename="view_unredacted_transcript"))
    admin = type(admin).objects.get(pk=admin.pk)  # permissions are cached per instance
    lines = transcript_unredacted_text(user=admin, transcript=transcript, ip_address="10.0.0.9")
    assert lines[1]["text"] == "four five three nine one four eight eight"
    assert lines[7]["text"] == "seven three one"
    event = AuditEvent.objects.get(data__unredacted=True)
    assert event.event_type == AuditEventType.TRANSCRIPT_VIEWED
    assert event.actor_id == admin.pk
    assert event.call_id == transcript.call_id
    assert event.data["segments_unredacted"] == 4


def test_no_role_holds_the_unredacted_permission(make_user) -> None:
    available = {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Permission.objects.select_related("content_type")
    }
    assert "streaming.view_unredacted_transcript" in available
    for role in Role:
        assert "streaming.view_unredacted_transcript" not in intended_permissions(role, available)
    for role in ("admin", "supervisor", "auditor"):
        assert not make_user(role).has_perm("streaming.view_unredacted_transcript")


def live_line(seq: int, speaker: str, start: float, text: str) -> dict[str, Any]:
    return {"seq": seq, "speaker": speaker, "start": start, "end": start + 2, "text": text}


@override_settings(TRANSCRIPT_STORE_UNREDACTED=True)
def test_live_lines_are_stored_redacted_and_a_number_across_batches_corrects_the_first() -> None:
    call = CallFactory(status=CallStatus.LIVE)
    live_transcript_append_many(
        lines_by_call={call.pk: [live_line(1, "caller", 1.0, "it's four one one one 1111")]}
    )
    assert [x["text"] for x in live_transcript_lines(call_id=call.pk)] == [
        "it's four one one one 1111"
    ]
    live_transcript_append_many(
        lines_by_call={
            call.pk: [
                live_line(2, "agent", 3.0, "uh huh"),
                live_line(3, "caller", 5.0, "1111 one one one one and the CVV is 123"),
            ]
        }
    )
    assert [x["text"] for x in live_transcript_lines(call_id=call.pk)] == [
        f"it's {CARD}",
        "uh huh",
        f"{CARD} and the CVV is {CVV}",
    ]
    first = TranscriptSegment.objects.get(transcript__call=call, seq=1)
    assert first.redactions == [{"kind": "card", "start": 5, "end": 5 + len(CARD)}]
    assert first.unredacted.text == "it's four one one one 1111"


def test_live_lines_are_redacted_before_browsers_see_them() -> None:
    published: list[dict[str, Any]] = []
    coroutines: list[Any] = []

    async def publish(live, line) -> None:
        published.append(line)

    transcripts = LiveTranscripts(None, publish=publish, spawn=coroutines.append)
    transcripts._states["k"] = LiveTranscriptState(live=None)  # type: ignore[arg-type]

    def result(utterance: int, speaker: str, text: str, final: bool = True) -> None:
        data = {"text": text, "start": utterance, "end": utterance + 1, "is_final": final}
        transcripts._on_result("k", speaker, {**data, "utterance": utterance})  # type: ignore[arg-type]

    async def run_all() -> None:
        await asyncio.gather(*coroutines)

    result(1, "caller", "four one one one one one one one", final=False)
    result(1, "caller", "four one one one one one one one")
    result(2, "agent", "one one one one one one one one", final=False)
    asyncio.run(run_all())
    assert [(line["speaker"], line["seq"], line["text"]) for line in published] == [
        ("caller", 1, "four one one one one one one one"),
        ("caller", 1, "four one one one one one one one"),
        ("caller", 1, CARD),  # corrected: the agent's line completes a card number
        ("agent", 2, f"{CARD}"),
    ]
    state = transcripts._states["k"]
    assert state.unsaved_finals[0]["text"] == "four one one one one one one one"  # stored later,
    # through the same redaction (the test above)


def test_exports_redact_a_transcript_stored_before_redaction() -> None:
    call = CallFactory(status=CallStatus.COMPLETED)
    transcript = Transcript.objects.create(
        call=call,
        kind=TranscriptKind.POST_CALL,
        engine="whisper",
        model="v1",
        status=TranscriptStatus.DONE,
    )
    for seq, (speaker, text) in enumerate(
        [("caller", "it is 4111 1111"), ("caller", "1111 1111"), ("agent", "thanks, order 42")],
        start=1,
    ):
        TranscriptSegment.objects.create(
            transcript=transcript, seq=seq, speaker=speaker, start=seq, end=seq + 0.5, text=text
        )
    turns = list(transcript.segments.order_by("start"))
    for exported in (
        transcript_text(turns),
        str(transcript_json(turns, about={})),
        transcript_webvtt(turns),
    ):
        assert "1111" not in exported
        assert exported.count(CARD) == 2
        assert "order 42" in exported


def test_transcripts_stored_before_redaction_are_redacted_by_the_command() -> None:
    from io import StringIO

    from django.core.management import call_command

    call = CallFactory(status=CallStatus.COMPLETED)
    transcript = Transcript.objects.create(
        call=call, kind=TranscriptKind.POST_CALL, engine="whisper", model="v1"
    )
    for seq, text in enumerate(["card 4539 1488", "0343 6467", "order 42"], start=1):
        TranscriptSegment.objects.create(
            transcript=transcript, seq=seq, speaker="caller", start=seq, end=seq + 0.5, text=text
        )
    out = StringIO()
    call_command("transcripts_redact", stdout=out)
    assert "2 segment(s) of 1 transcript(s) redacted" in out.getvalue()
    assert texts(transcript) == [f"card {CARD}", CARD, "order 42"]
    assert transcript.segments.get(seq=2).redactions == [
        {"kind": "card", "start": 0, "end": len(CARD)}
    ]
    call_command("transcripts_redact", stdout=out)
    assert "0 segment(s) of 0 transcript(s)" in out.getvalue()
