"""A demo call recorded the way the ingest records a RingCX stream.

The audio is cut into the 20 ms mu-law frames RingCX sends, each frame travels as the JSON
message RingCX would send and is read by the ingest's own parser, and the messages go through
the ingest's :class:`~streaming.audio.pipeline.CallPipeline` (Media, ticks, one Stop per
perspective, close) at the pace of a real call. The recording and its ``stream_stats`` are
therefore exactly what a call with this audio streamed by RingCX produces. No Django here.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streaming.audio.pipeline import CallPipeline
from streaming.audio.protocol import CONFERENCE, PARTICIPANT, Media, Start, Stop, parse
from streaming.tools.simulator import FRAME_SAMPLES, FRAME_SECONDS, frame_payloads, load_wav

AUDIO_DIR = Path(__file__).resolve().parent / "audio"
TICK_FRAMES = 10  # the ingest ticks every 0.2 s: every 10 frames of 20 ms


@dataclass(frozen=True)
class DemoRecording:
    start: Start  # as the ingest parsed it
    stream_stats: Mapping[str, Any]
    seconds: float
    stop: dict[str, Any]  # the Stop metadata


def demo_recording_write(
    *, source: Path, path: Path, metadata: dict[str, Any], started: float
) -> DemoRecording:
    """Stream ``source`` (a WAV: agent left, caller right) as the call ``metadata`` describes,
    from ``started`` (epoch seconds), into the stereo recording ``path``."""
    audio = load_wav(source)
    frames = math.ceil(len(audio.left) / FRAME_SAMPLES)
    payloads = {
        PARTICIPANT: frame_payloads(audio.left, frames),
        CONFERENCE: frame_payloads(audio.right, frames),
    }
    start = parse(json.dumps({"event": "Start", "metadata": metadata}))
    assert isinstance(start, Start)
    path.parent.mkdir(parents=True, exist_ok=True)
    pipeline = CallPipeline(path=path)
    feed = pipeline.open_socket()
    now = started
    for index in range(frames):
        now = started + index * FRAME_SECONDS
        for perspective, frames_of in payloads.items():
            message = parse(_media_message(perspective, index + 1, frames_of[index]))
            assert isinstance(message, Media)
            pipeline.media(feed, message, now)
        if index % TICK_FRAMES == TICK_FRAMES - 1:
            pipeline.tick(now)
    # One Stop per perspective, as RingCX ends a call.
    stop = parse(json.dumps({"event": "Stop", "metadata": {"duration": frames * FRAME_SECONDS}}))
    assert isinstance(stop, Stop)
    for _ in payloads:
        pipeline.stop(feed, stop.perspective)
    stats = pipeline.close()
    return DemoRecording(
        start=start, stream_stats=stats, seconds=stats["recording"]["seconds"], stop=stop.metadata
    )


def _media_message(perspective: str, sequence: int, payload: bytes) -> str:
    media = base64.b64encode(payload).decode()
    return json.dumps(
        {"event": "Media", "perspective": perspective, "sequenceId": str(sequence), "media": media}
    )
