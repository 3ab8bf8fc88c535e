"""The demo calls ``make run`` seeds: real speech recorded by the ingest's pipeline, then
finalized like every call, so the Celery worker fingerprints and transcribes them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from ringadmin.calls.models import Call, CallStatus
from ringadmin.calls.services import call_finalize
from streaming.ingest.calls import ingest_call_start
from streaming.ingest.owner import this_process_owner
from streaming.ingest.runtime import recording_path_for
from streaming.profiles.models import StreamingProfile
from streaming.tools.demo.recording import AUDIO_DIR, demo_recording_write

# The demo streaming profile's product; the demo calls came through it.
DEMO_PRODUCT: dict[str, Any] = {
    "product_type": "QUEUE",
    "product_id": 1234,
    "sub_account_id": "99990001",
    "main_account_id": "99990000",
    "rc_account_id": "123456789",
}
DEMO_SESSION = "1"
DEMO_DNIS = "+18005550100"


@dataclass(frozen=True)
class DemoCall:
    call_id: str
    audio: str  # a stereo WAV in streaming/tools/demo/audio: agent left, caller right
    ani: str
    agent_id: int
    minutes_ago: int


DEMO_CALLS = (
    DemoCall("demo-1", "call_stereo_8k.wav", "+14155550001", 1001, 67),
    DemoCall("demo-2", "live_dialogue_8k.wav", "+14155550002", 1002, 128),
)


def demo_calls_seed(*, now: datetime | None = None) -> list[Call]:
    """Record each demo call that is missing, or whose recording is gone; the calls recorded.

    Idempotent: a demo call with its recording is left alone, and an installation that
    already has real calls gets no new demo calls.
    """
    now = now or timezone.now()
    has_real_calls = Call.objects.filter(is_demo=False).exists()
    recorded = []
    for spec in DEMO_CALLS:
        call = Call.objects.filter(ringcx_call_id=spec.call_id, session_id=DEMO_SESSION).first()
        if call is None and has_real_calls:
            continue
        if call is not None and (not call.is_demo or _recording_present(call)):
            continue
        started_at = now - timedelta(minutes=spec.minutes_ago)
        recorded.append(_demo_call_record(spec=spec, call=call, started_at=started_at))
    return recorded


def _recording_present(call: Call) -> bool:
    return bool(call.recording_path) and Path(call.recording_path).is_file()


def _metadata(spec: DemoCall) -> dict[str, Any]:
    """The Start metadata RingCX sends for such a call."""
    return {
        "callId": spec.call_id,
        "sessionId": DEMO_SESSION,
        "ani": spec.ani,
        "dnis": DEMO_DNIS,
        "accountId": DEMO_PRODUCT["main_account_id"],
        "subaccountId": DEMO_PRODUCT["sub_account_id"],
        "rcAccountId": DEMO_PRODUCT["rc_account_id"],
        "agentId": spec.agent_id,
        "productType": "Queue",
        "productId": DEMO_PRODUCT["product_id"],
        "contentType": "audio/x-mulaw",
        "sampleRateHertz": 8000,
    }


def _demo_profile_id() -> int:
    """The demo calls came through the demo profile (``demo_setup`` creates it first)."""
    identity = {k: DEMO_PRODUCT[k] for k in ("product_type", "product_id", "sub_account_id")}
    return StreamingProfile.objects.values_list("pk", flat=True).get(**identity)


def _demo_call_record(*, spec: DemoCall, call: Call | None, started_at: datetime) -> Call:
    path = Path(
        recording_path_for(call_id=spec.call_id, session_id=DEMO_SESSION, started=started_at)
    )
    recording = demo_recording_write(
        source=AUDIO_DIR / spec.audio,
        path=path,
        metadata=_metadata(spec),
        started=started_at.timestamp(),
    )
    start = recording.start
    with transaction.atomic():
        if call is None:
            call = ingest_call_start(
                ringcx_call_id=start.call_id,
                session_id=start.session_id,
                profile_id=_demo_profile_id(),
                metadata=start.metadata,
                handshake={},
                owner=this_process_owner(),
                recording_path=str(path),
                started_at=started_at,
                new_recording=True,
            ).call
        # A demo call whose recording was lost (or seeded before demo calls had audio) gets
        # this recording in place of the old one.
        Call.objects.filter(pk=call.pk).update(
            is_demo=True, recording_path=str(path), started_at=started_at
        )
        return call_finalize(
            call_id=call.pk,
            status=CallStatus.COMPLETED,
            ended_at=started_at + timedelta(seconds=recording.seconds),
            duration_seconds=recording.seconds,
            stream_stats=dict(recording.stream_stats),
            end_reason="every perspective stopped",
            stop_metadata=recording.stop,
        )
