"""The call page's cost: analysing a long recording once, then serving the page and waveform.

Everything it creates (a user, a call, its transcript and analysis, the audit entries the page
writes) lives in one transaction that is rolled back at the end, and the synthetic recording
is deleted, so it can run against any database. It is a benchmark, not a test.
"""

from __future__ import annotations

import secrets
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.test import Client
from django.utils import timezone

from monitoring.tools.bench_http import allowed_host
from ringadmin.calls.models import Call, CallStatus
from ringadmin.compliance.roles import Role
from ringadmin.compliance.users import user_create
from streaming.audio.wav import SAMPLE_RATE, wav_header
from streaming.call_analysis import call_analyse
from streaming.models import Transcript, TranscriptKind, TranscriptSegment, TranscriptStatus

BLOCK_SECONDS = 10


@dataclass(frozen=True)
class Timing:
    name: str
    requests: int
    p50_ms: float
    p95_ms: float
    bytes: int


@dataclass(frozen=True)
class BenchResult:
    audio_seconds: float
    write_seconds: float
    analysis_seconds: float
    turns: int
    timings: list[Timing]


def conversation_turns(seconds: float, *, seed: int = 7) -> list[tuple[str, float, float]]:
    """Alternating turns of 2-12 s with pauses, some starting before the other side stops."""
    rng = np.random.default_rng(seed)
    turns: list[tuple[str, float, float]] = []
    at, speaker = 0.5, "agent"
    while at < seconds - 1:
        length = float(rng.uniform(2, 12))
        end = min(at + length, seconds)
        turns.append((speaker, at, end))
        gap = float(rng.uniform(-0.8, 1.5))  # negative: the next one talks over the end
        at = max(end + gap, at + 0.5)
        speaker = "caller" if speaker == "agent" else "agent"
    return turns


def write_conversation(path: Path, turns: list[tuple[str, float, float]], seconds: float) -> None:
    """A stereo PCM16 WAV, written block by block (bounded memory for hours of audio)."""
    total = round(seconds * SAMPLE_RATE)
    rng = np.random.default_rng(11)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.write(wav_header(total * 4))
        block = BLOCK_SECONDS * SAMPLE_RATE
        for first in range(0, total, block):
            count = min(block, total - first)
            t = (first + np.arange(count)) / SAMPLE_RATE
            samples = rng.normal(0.0, 40.0, size=(count, 2))
            for speaker, start, end in turns:
                if end * SAMPLE_RATE <= first or start * SAMPLE_RATE >= first + count:
                    continue
                channel, hz = (0, 220.0) if speaker == "agent" else (1, 330.0)
                inside = (t >= start) & (t < end)
                # a syllable-like envelope, so the voice detector sees speech, not a hum
                envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4.0 * t[inside])
                samples[inside, channel] += 6000 * envelope * np.sin(2 * np.pi * hz * t[inside])
            handle.write(np.clip(np.rint(samples), -32768, 32767).astype("<i2").tobytes())


def _timed(client: Client, url: str, count: int, host: str) -> tuple[list[float], int]:
    durations = []
    size = 0
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(url, secure=True, HTTP_HOST=host)
        body = response.content
        durations.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
        size = len(body)
    return durations, size


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def call_page_bench(
    *, seconds: float, requests: int, progress: Callable[[str], None] = lambda _: None
) -> BenchResult:
    turns = conversation_turns(seconds)
    path = Path(settings.RECORDINGS_DIR) / "bench" / f"call-page-{secrets.token_hex(6)}.wav"
    started = time.perf_counter()
    write_conversation(path, turns, seconds)
    write_seconds = time.perf_counter() - started
    progress(f"wrote {seconds:.0f} s of stereo audio ({path.stat().st_size >> 20} MiB)")
    try:
        with transaction.atomic():
            result = _measure(path, turns, seconds, requests, write_seconds, progress)
            transaction.set_rollback(True)
    finally:
        path.unlink(missing_ok=True)
    return result


def _measure(path, turns, seconds, requests, write_seconds, progress) -> BenchResult:
    user = user_create(
        username=f"bench-{secrets.token_hex(4)}",
        email="bench@example.invalid",
        password=secrets.token_urlsafe(16),
        role=Role.SUPERVISOR,
        validate=False,
    )
    now = timezone.now()
    call = Call.objects.create(
        ringcx_call_id=f"BENCH-{secrets.token_hex(4)}",
        status=CallStatus.COMPLETED,
        started_at=now - timedelta(seconds=seconds),
        ended_at=now,
        duration_seconds=seconds,
        recording_path=str(path),
        agent_id="bench",
    )
    transcript = Transcript.objects.create(
        call=call,
        kind=TranscriptKind.POST_CALL,
        engine="bench",
        model="synthetic",
        status=TranscriptStatus.DONE,
        completed_at=now,
    )
    TranscriptSegment.objects.bulk_create(
        TranscriptSegment(
            transcript=transcript,
            seq=seq,
            speaker=speaker,
            start=start,
            end=end,
            text=f"Turn {seq}: a sentence or two of what was said, for the page to show.",
        )
        for seq, (speaker, start, end) in enumerate(turns)
    )
    started = time.perf_counter()
    if call_analyse(call_id=call.pk) is None:
        raise RuntimeError("the analysis stored nothing")
    analysis_seconds = time.perf_counter() - started
    progress(f"analysed in {analysis_seconds:.2f} s")

    client = Client()
    client.force_login(user)  # type: ignore[arg-type]  # AUTH_USER_MODEL is User
    host = allowed_host()
    timings = []
    for name, url in (
        ("call page (HTML)", f"/calls/{call.pk}/"),
        ("peaks.json", f"/calls/{call.pk}/peaks.json"),
    ):
        _timed(client, url, 2, host)  # warm up: templates, permissions cache
        durations, size = _timed(client, url, requests, host)
        timings.append(
            Timing(
                name,
                requests,
                statistics.median(durations) * 1000,
                _percentile(durations, 0.95) * 1000,
                size,
            )
        )
        progress(f"{name}: {requests} requests")
    return BenchResult(seconds, write_seconds, analysis_seconds, len(turns), timings)
