"""A call with everything the API serves (recording, transcript, analysis) and clients that
authenticate with real tokens issued through the service."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from ringadmin.api_tokens.services import api_token_create
from ringadmin.calls.models import CallAnalysis, Speaker
from streaming.models import Transcript, TranscriptKind, TranscriptSegment, TranscriptStatus
from tests.factories import CallFactory
from tests.streaming.stream_stats_sample import stream_stats

CLIENT_IP = "203.0.113.9"
ROLES = ("supervisor", "auditor", "admin")


def write_wav(path: Path, frames: int = 4000) -> bytes:
    """A stereo 8 kHz 16-bit WAV whose bytes all differ in sequence (so ranges are checkable)."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(bytes(i % 251 for i in range(frames * 4)))
    return path.read_bytes()


@pytest.fixture
def recorded_call(db, tmp_path, settings):
    """A completed call with a recording on disk, stream statistics, an analysis and a
    finished post-call transcript of three segments."""
    settings.RECORDINGS_DIR = tmp_path
    path = tmp_path / "call.wav"
    call = CallFactory(recording_path=str(path), stream_stats=stream_stats(), agent_id="777")
    call.recording_bytes = write_wav(path)
    CallAnalysis.objects.create(
        call=call,
        audio_seconds=2.0,
        agent_talk_seconds=1.0,
        caller_talk_seconds=0.5,
        silence_seconds=0.5,
        overtalk_seconds=0.0,
        longest_monologue_seconds=1.0,
        longest_monologue_speaker=Speaker.AGENT,
        agent_interruptions=0,
        caller_interruptions=1,
    )
    transcript = Transcript.objects.create(
        call=call,
        kind=TranscriptKind.POST_CALL,
        engine="whisper",
        model="tiny.en",
        status=TranscriptStatus.DONE,
    )
    for seq, (speaker, start, end, text) in enumerate(
        [
            ("agent", 0.0, 1.5, "Thank you for calling, how can I help?"),
            ("caller", 1.6, 3.25, "My order <42> never arrived & I'm upset"),
            ("agent", 3.5, 61.0, "Let me check that --> for you."),
        ]
    ):
        TranscriptSegment.objects.create(
            transcript=transcript, seq=seq, speaker=speaker, start=start, end=end, text=text
        )
    call.transcript = transcript
    return call


@pytest.fixture
def api_client_for(make_user):
    """``api_client_for("auditor")`` → an APIClient holding a fresh token of a new user in that
    role (``None`` → a user in no role); ``client.user`` and ``client.token`` are attached."""

    def build(role: str | None):
        if role is None:
            user = make_user("supervisor")
            user.groups.clear()
        else:
            user = make_user(role)
        issued = api_token_create(user=user, name="tests")
        client = APIClient(REMOTE_ADDR=CLIENT_IP)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
        client.user = user
        client.token = issued.token
        client.secret = issued.secret
        return client

    return build


@pytest.fixture
def anonymous_client():
    return APIClient(REMOTE_ADDR=CLIENT_IP)
