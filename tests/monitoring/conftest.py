"""A finished call as the ingest leaves it: a stereo recording, a transcript, its analysis."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from ringadmin.calls.models import Call
from streaming.call_analysis import call_analyse
from streaming.models import Transcript, TranscriptKind, TranscriptSegment, TranscriptStatus
from tests.factories import CallFactory
from tests.streaming.stereo_signals import stereo, write_stereo_wav
from tests.streaming.stream_stats_sample import stream_stats

TURNS = [
    ("agent", 0.5, 2.5, "Thank you for calling, this is Ada."),
    ("caller", 3.0, 5.5, "Hi, my parcel <b>never</b> arrived & I'm worried."),
    ("agent", 6.0, 9.0, "I am sorry to hear that, let me check the parcel for you."),
]


@dataclass
class RecordedCall:
    call: Call
    path: Path


def add_transcript(call: Call, turns=TURNS) -> Transcript:
    transcript = Transcript.objects.create(
        call=call,
        kind=TranscriptKind.POST_CALL,
        engine="whisper",
        model="tiny.en",
        status=TranscriptStatus.DONE,
        completed_at=timezone.now(),
    )
    TranscriptSegment.objects.bulk_create(
        TranscriptSegment(
            transcript=transcript, seq=seq, speaker=speaker, start=start, end=end, text=text
        )
        for seq, (speaker, start, end, text) in enumerate(turns)
    )
    return transcript


@pytest.fixture
def recorded_call(db, settings, tmp_path) -> RecordedCall:
    settings.RECORDINGS_DIR = tmp_path / "recordings"
    path = write_stereo_wav(
        settings.RECORDINGS_DIR / "2026/12/03/call-page-1.wav",
        stereo(10, agent=[(0.5, 2.5), (6, 9)], caller=[(3, 5.5)]),
    )
    ended = timezone.now()
    call = CallFactory(
        ringcx_call_id="CX-2041",
        started_at=ended - timedelta(seconds=10),
        recording_path=str(path),
        duration_seconds=10.0,
        ended_at=ended,
        end_reason="agent hung up",
        stream_stats=stream_stats(),
    )
    add_transcript(call)
    assert call_analyse(call_id=call.pk) is not None
    return RecordedCall(call, path)
