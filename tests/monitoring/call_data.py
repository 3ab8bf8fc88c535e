"""Building calls with an analysis and a transcript for the calls list tests."""

from __future__ import annotations

from datetime import datetime

from ringadmin.calls.models import Call, CallAnalysis
from streaming.models import Transcript, TranscriptKind, TranscriptSegment, TranscriptStatus
from tests.factories import CallFactory


def add_analysis(call: Call, **values: float) -> CallAnalysis:
    defaults = {
        "audio_seconds": 120.0,
        "agent_talk_seconds": 60.0,
        "caller_talk_seconds": 40.0,
        "silence_seconds": 15.0,
        "overtalk_seconds": 5.0,
        "longest_monologue_seconds": 20.0,
        "longest_monologue_speaker": "agent",
        "agent_interruptions": 1,
        "caller_interruptions": 1,
    }
    return CallAnalysis.objects.create(call=call, **{**defaults, **values})


def add_transcript(
    call: Call, lines: list[tuple[str, float, str]], status: str = TranscriptStatus.DONE
) -> Transcript:
    """``lines``: (speaker, start seconds, text)."""
    transcript = Transcript.objects.create(
        call=call, kind=TranscriptKind.POST_CALL, engine="whisper", model="tiny.en", status=status
    )
    TranscriptSegment.objects.bulk_create(
        TranscriptSegment(
            transcript=transcript, seq=i, speaker=speaker, start=start, end=start + 2, text=text
        )
        for i, (speaker, start, text) in enumerate(lines)
    )
    return transcript


def make_call(started_at: datetime, **values) -> Call:
    return CallFactory(started_at=started_at, **values)
