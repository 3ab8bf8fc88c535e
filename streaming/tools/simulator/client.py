"""Simulate RingCX call streaming over WebSocket (DESIGN.md §4), with load and faults.

RingCX cannot be pointed at a developer's machine, and the ingest must be shown to survive
what the protocol leaves open (reordering, duplicates, drops, split or dropped sockets,
malformed frames) and to keep up with hundreds of calls. This module speaks the protocol as
RingCX does and is usable three ways: as a library (``await simulate(config)``, used by the
tests and the benchmark), as ``python -m streaming.simulator``, and as
``manage.py ringcx_simulate``.

It is pure asyncio + ``websockets`` + numpy and imports no Django, so the benchmark can run
it in its own process pinned to its own core.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import math
import secrets
import struct
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, TextIO
from urllib.parse import urlencode, urlsplit, urlunsplit

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from streaming.audio.lag import LagHistogram
from streaming.audio.mulaw import DECODE_TABLE
from streaming.audio.mulaw import decode as mulaw_decode
from streaming.audio.mulaw import encode as mulaw_encode

SAMPLE_RATE = 8000
FRAME_SAMPLES = 160  # 20 ms of 8 kHz G.711, one byte per sample
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE
PARTICIPANT = "Participant"  # the agent: LEFT channel
CONFERENCE = "Conference"  # the caller and every other leg: RIGHT channel
PERSPECTIVES = (PARTICIPANT, CONFERENCE)
MALFORMED_KINDS = ("invalid_json", "unknown_event", "bad_base64", "wrong_types")
SECRET_PLACES = ("header", "query", "start", "connected", "none")
NUMBERINGS = ("per-perspective", "per-socket")
LATE_SECONDS = (1.1, 1.6)  # how late a --late frame is sent (RingCX-side stall of > 1 s)

# --- G.711 mu-law ------------------------------------------------------------------------------

MULAW_DECODE_TABLE = DECODE_TABLE
"""The 256 linear (int16) values of the mu-law codes, as every G.711 decoder has them."""


# --- Audio -------------------------------------------------------------------------------------


class AudioError(ValueError):
    """The audio file cannot be used (not a WAV, or an encoding we do not read)."""


@dataclass(frozen=True)
class StereoAudio:
    """Two int16 channels at 8 kHz: left = agent (Participant), right = caller (Conference)."""

    left: np.ndarray
    right: np.ndarray

    @property
    def duration(self) -> float:
        return len(self.left) / SAMPLE_RATE

    def channel(self, perspective: str) -> np.ndarray:
        return self.left if perspective == PARTICIPANT else self.right


def resample(samples: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Linear-interpolation resampling, with a box low-pass first when downsampling.

    Enough for test and load audio; not a studio resampler.
    """
    if rate == target or len(samples) == 0:
        return samples.astype(np.int16)
    x = samples.astype(np.float64)
    ratio = rate / target
    if ratio > 1.5:
        width = round(ratio)
        x = np.convolve(x, np.ones(width) / width, mode="same")
    count = round(len(x) * target / rate)
    positions = np.arange(count) * ratio
    return np.clip(np.interp(positions, np.arange(len(x)), x), -32768, 32767).astype(np.int16)


def _wav_chunks(data: bytes) -> dict[bytes, bytes]:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioError("not a RIFF/WAVE file")
    chunks: dict[bytes, bytes] = {}
    position = 12
    while position + 8 <= len(data):
        chunk_id = data[position : position + 4]
        size = int.from_bytes(data[position + 4 : position + 8], "little")
        body = data[position + 8 : position + 8 + size]  # a streamed file may lie about size
        chunks.setdefault(chunk_id, body)
        position += 8 + size + (size & 1)
    return chunks


def load_wav(path: str | Path) -> StereoAudio:
    """Read a mono or stereo WAV (PCM 8/16/24/32-bit, float, or G.711 mu-law) at any rate.

    Mono goes to both channels; beyond two channels the first two are used.
    """
    chunks = _wav_chunks(Path(path).read_bytes())
    fmt, data = chunks.get(b"fmt "), chunks.get(b"data")
    if fmt is None or data is None or len(fmt) < 16:
        raise AudioError("WAV file without a fmt or data chunk")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == 0xFFFE and len(fmt) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the sub-format says
        tag = int.from_bytes(fmt[24:26], "little")
    if channels < 1 or block_align < channels or rate <= 0:
        raise AudioError("WAV header with an impossible channel count, block size or rate")
    frames = len(data) // block_align
    raw = data[: frames * block_align]
    width = block_align // channels
    if tag == 7 and width == 1:
        pcm = mulaw_decode(raw).astype(np.int32)
    elif tag == 1 and width == 1:
        pcm = (np.frombuffer(raw, np.uint8).astype(np.int32) - 128) << 8
    elif tag == 1 and width == 2:
        pcm = np.frombuffer(raw, "<i2").astype(np.int32)
    elif tag == 1 and width == 3:
        triples = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        pcm = ((triples[:, 0] << 8) | (triples[:, 1] << 16) | (triples[:, 2] << 24)) >> 16
    elif tag == 1 and width == 4:
        pcm = np.frombuffer(raw, "<i4") >> 16
    elif tag == 3 and width in (4, 8):
        floats = np.frombuffer(raw, "<f4" if width == 4 else "<f8")
        pcm = np.clip(np.round(floats * 32767), -32768, 32767).astype(np.int32)
    else:
        raise AudioError(
            f"unsupported WAV encoding (format tag {tag}, {bits} bits): use PCM or G.711 mu-law"
        )
    pcm = pcm.astype(np.int16).reshape(frames, channels)
    left = pcm[:, 0]
    right = pcm[:, 1] if channels >= 2 else pcm[:, 0]
    return StereoAudio(left=resample(left, rate), right=resample(right, rate))


def tone_audio(duration: float, *, seed: int = 0) -> StereoAudio:
    """A synthetic conversation: the agent (440 Hz, left) and the caller (660 Hz, right) take
    turns in syllable-like bursts, so the two channels differ and misplacement is audible."""
    count = max(1, round(duration * SAMPLE_RATE))
    t = np.arange(count) / SAMPLE_RATE
    rng = np.random.default_rng(seed)
    envelopes = [np.zeros(count), np.zeros(count)]
    position, speaker = 0, 0
    while position < count:
        turn = int(rng.uniform(0.8, 2.4) * SAMPLE_RATE)
        end = min(count, position + turn)
        syllable_rate = rng.uniform(3.0, 5.0)
        local = np.arange(end - position) / SAMPLE_RATE
        envelopes[speaker][position:end] = 0.5 * (1 - np.cos(2 * np.pi * syllable_rate * local))
        position = end + int(rng.uniform(0.1, 0.4) * SAMPLE_RATE)
        speaker ^= 1
    amplitude = 0.3 * 32767
    left = amplitude * envelopes[0] * np.sin(2 * np.pi * 440.0 * t)
    right = amplitude * envelopes[1] * np.sin(2 * np.pi * 660.0 * t)
    return StereoAudio(left=left.astype(np.int16), right=right.astype(np.int16))


def frame_payloads(samples: np.ndarray, count: int) -> list[bytes]:
    """``count`` frames of 160 mu-law bytes; the audio loops if shorter, silence pads the end."""
    encoded = mulaw_encode(samples)
    needed = count * FRAME_SAMPLES
    if len(encoded) and len(encoded) < needed:
        encoded = encoded * (needed // len(encoded) + 1)
    encoded = encoded[:needed].ljust(needed, b"\xff")  # 0xFF is mu-law silence
    return [encoded[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES] for i in range(count)]


# --- Statistics --------------------------------------------------------------------------------


# --- Configuration and report ------------------------------------------------------------------


@dataclass
class SimulationConfig:
    """What to simulate. Percentages are 0-100 and apply per frame and perspective."""

    url: str = "ws://127.0.0.1:8000/"
    calls: int = 1
    duration: float | None = 10.0  # seconds per call; None = the audio file's length
    ramp: float = 0.0  # spread the calls' starts over this many seconds
    audio_path: str | Path | None = None  # WAV; None = the synthetic tone conversation
    audio: StereoAudio | None = None  # already loaded audio (library use); wins over the path
    call_id_prefix: str | None = None  # None = "sim-<random>", so reruns never collide
    session_id: str = "1"
    ani: str | None = None  # None = a distinct 555 number per call
    dnis: str = "8005550100"
    account_id: str = "99990000"
    sub_account: str = "99990001"
    rc_account_id: str = "123456789"
    agent_id: int = 1000  # the first call's agent; each call gets the next id
    product_type: str = "Queue"
    product_id: int = 1234
    secret: str | None = None
    secret_in: str = "header"  # noqa: S105 (a place: header, query, start, connected, none)
    realtime: bool = True  # False = flood: send as fast as the server reads
    send_sent_at: bool = True  # add "sentAt" to Media frames (the ingest's lag measurement)
    late_start_ms: float = 0.0  # the Conference perspective starts streaming this much later
    numbering: str = "per-perspective"  # or per-socket: one counter for all Media on a socket
    reorder_pct: float = 0.0
    reorder_depth: int = 3
    duplicate_pct: float = 0.0
    drop_pct: float = 0.0
    late_pct: float = 0.0
    malformed_pct: float = 0.0
    split_perspectives: bool = False  # each perspective on its own socket
    reconnect_at: float | None = None  # drop the socket (no Stop) at this call time, reconnect
    seed: int | None = None  # None = random, reported so a run can be replayed
    keep_sent_frames: bool = False
    connect_timeout: float = 10.0
    close_timeout: float = 10.0
    deadline: float | None = None  # hard limit for the whole run; None = derived from duration
    progress: bool = False  # a progress bar on stderr

    def validate(self) -> None:
        problems = []
        if self.calls < 1:
            problems.append("calls must be at least 1")
        if self.duration is not None and self.duration <= 0:
            problems.append("duration must be positive")
        if self.duration is None and self.audio is None and self.audio_path is None:
            problems.append("duration is required with the synthetic tone")
        if self.secret_in not in SECRET_PLACES:
            problems.append(f"secret_in must be one of {', '.join(SECRET_PLACES)}")
        if self.numbering not in NUMBERINGS:
            problems.append(f"numbering must be one of {', '.join(NUMBERINGS)}")
        for name in ("reorder_pct", "duplicate_pct", "drop_pct", "late_pct", "malformed_pct"):
            if not 0 <= getattr(self, name) <= 100:
                problems.append(f"{name} must be between 0 and 100")
        if self.reorder_depth < 1:
            problems.append("reorder_depth must be at least 1")
        if self.ramp < 0 or self.late_start_ms < 0:
            problems.append("ramp and late_start_ms cannot be negative")
        if self.reconnect_at is not None and self.reconnect_at <= 0:
            problems.append("reconnect_at must be positive")
        if urlsplit(self.url).scheme not in ("ws", "wss"):
            problems.append("url must be ws:// or wss://")
        if problems:
            raise ValueError("; ".join(problems))

    def redacted(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "audio"}
        data["audio_path"] = str(self.audio_path) if self.audio_path else None
        data["secret"] = "***" if self.secret else None
        return data


class SentFrame(NamedTuple):
    """One Media message as sent, so a test can rebuild the recording the server should make."""

    perspective: str
    sequence_id: int
    payload: bytes
    duplicate: bool  # a repeat of a frame already sent
    late: bool  # sent over a second after its slot
    offset: float  # when it was sent, seconds after the socket's stream clock started
    sent_at: float  # when it was sent, epoch seconds (its "sentAt")


@dataclass
class PerspectiveReport:
    frames_planned: int = 0  # audio frames of the call in this perspective
    frames_sent: int = 0  # distinct frames sent (each sequence id once)
    frames_dropped: int = 0  # withheld on purpose (--drop)
    duplicates_sent: int = 0  # extra copies sent (--duplicate)
    frames_reordered: int = 0  # frames held back behind later ones (--reorder)
    frames_late: int = 0  # frames sent over a second after their slot (--late)
    frames_unsent: int = 0  # never sent: the socket was refused, failed or closed by the server
    stops_sent: int = 0
    first_sequence_id: int | None = None
    last_sequence_id: int | None = None


@dataclass
class ConnectionReport:
    """One WebSocket: how the handshake went and how it ended."""

    perspectives: list[str]
    attempt: int  # 0 for the first connection, 1 after --reconnect-at
    outcome: str = "pending"  # accepted | rejected | failed | timeout
    status_code: int | None = None  # the HTTP status of a refused handshake
    error: str = ""
    closed_by: str | None = None  # client | client-drop | server | network | deadline
    close_code: int | None = None
    close_reason: str = ""
    messages_sent: int = 0
    messages_received: int = 0
    backpressure_waits: int = 0  # sends that waited over 5 ms for the server to read


@dataclass
class CallReport:
    call_id: str
    session_id: str
    perspectives: dict[str, PerspectiveReport]
    connections: list[ConnectionReport] = field(default_factory=list)
    malformed_sent: dict[str, int] = field(default_factory=dict)
    sent_frames: list[SentFrame] | None = None

    @property
    def completed(self) -> bool:
        """Every socket was accepted, streamed all its frames, sent its Stops and ended
        normally (code 1000, or our own deliberate drop)."""
        return (
            bool(self.connections)
            and all(
                c.outcome == "accepted" and (c.closed_by == "client-drop" or c.close_code == 1000)
                for c in self.connections
            )
            and all(p.frames_unsent == 0 and p.stops_sent >= 1 for p in self.perspectives.values())
        )

    def to_dict(self, *, frames: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "call_id": self.call_id,
            "session_id": self.session_id,
            "completed": self.completed,
            "perspectives": {k: asdict(v) for k, v in self.perspectives.items()},
            "connections": [asdict(c) for c in self.connections],
            "malformed_sent": dict(self.malformed_sent),
        }
        if frames and self.sent_frames is not None:
            data["sent_frames"] = [
                [f.perspective, f.sequence_id, base64.b64encode(f.payload).decode(), f.duplicate]
                for f in self.sent_frames
            ]
        return data


@dataclass
class SimulationReport:
    config: dict[str, Any]
    seed: int
    frames_per_perspective: int
    calls: list[CallReport]
    started_at: float  # epoch seconds
    elapsed: float  # seconds
    send_lag: LagHistogram  # how late each Media send was against its schedule (real time)
    first_media_at: float | None  # epoch time of the first and last Media send (throughput)
    last_media_at: float | None
    media_cpu: float | None = None  # this process's CPU use while Media flowed (1.0 = a core)
    timed_out: bool = False

    def totals(self) -> dict[str, Any]:
        per_perspective: dict[str, dict[str, int]] = {}
        for call in self.calls:
            for name, report in call.perspectives.items():
                bucket = per_perspective.setdefault(name, {})
                for key, value in asdict(report).items():
                    if key.startswith("frames_") or key in ("duplicates_sent", "stops_sent"):
                        bucket[key] = bucket.get(key, 0) + value
        connections: dict[str, Any] = {
            "accepted": 0,
            "rejected": {},
            "failed": 0,
            "timeout": 0,
            "closed": {},
        }
        messages = 0
        for call in self.calls:
            for c in call.connections:
                messages += c.messages_sent
                if c.outcome == "rejected":
                    key = str(c.status_code)
                    connections["rejected"][key] = connections["rejected"].get(key, 0) + 1
                elif c.outcome in ("failed", "timeout"):
                    connections[c.outcome] += 1
                else:
                    connections["accepted"] += 1
                if c.closed_by:
                    key = f"{c.closed_by} {c.close_code}"
                    connections["closed"][key] = connections["closed"].get(key, 0) + 1
        malformed: dict[str, int] = {}
        for call in self.calls:
            for kind, count in call.malformed_sent.items():
                malformed[kind] = malformed.get(kind, 0) + count
        media_span = (
            self.last_media_at - self.first_media_at
            if self.first_media_at is not None and self.last_media_at is not None
            else 0.0
        )
        media = sum(p["frames_sent"] + p["duplicates_sent"] for p in per_perspective.values())
        return {
            "calls": len(self.calls),
            "calls_completed": sum(1 for c in self.calls if c.completed),
            "perspectives": per_perspective,
            "connections": connections,
            "malformed_sent": malformed,
            "messages_sent": messages,
            "media_per_second": round(media / media_span, 1) if media_span > 0 else None,
        }

    @property
    def ok(self) -> bool:
        return not self.timed_out and all(call.completed for call in self.calls)

    def to_dict(self, *, frames: bool = False) -> dict[str, Any]:
        return {
            "config": self.config,
            "seed": self.seed,
            "ok": self.ok,
            "timed_out": self.timed_out,
            "frames_per_perspective": self.frames_per_perspective,
            "started_at": self.started_at,
            "elapsed": round(self.elapsed, 3),
            "first_media_at": self.first_media_at,
            "last_media_at": self.last_media_at,
            "media_cpu": self.media_cpu,
            "send_lag_ms": self.send_lag.to_dict(),
            "totals": self.totals(),
            "calls": [call.to_dict(frames=frames) for call in self.calls],
        }


# --- Planning ----------------------------------------------------------------------------------

_MEDIA, _DUPLICATE, _MALFORMED, _STOP = 0, 1, 2, 3
_LATE, _REORDERED = 1, 2  # flags
_BEFORE = 1e-6  # a malformed copy goes just before its frame; a duplicate or Stop just after


@dataclass
class _SocketPlan:
    """Every message of one socket, in send order. Arrays, not objects: hundreds of calls."""

    perspectives: tuple[int, ...]
    connect_at: float
    due: np.ndarray  # seconds after the call's stream clock starts
    kind: np.ndarray
    perspective: np.ndarray
    sequence_id: np.ndarray
    ref: np.ndarray  # frame index (Media/duplicate) or malformed kind
    flags: np.ndarray


def _plan_call(
    config: SimulationConfig, frames: int, rng: np.random.Generator
) -> tuple[list[_SocketPlan], list[int]]:
    """Decide every fault of one call up front (seeded), then lay each socket's sends in order.

    Returns the socket plans and the frames dropped per perspective.
    """
    late_start = config.late_start_ms / 1000.0
    index = np.arange(frames)
    nominal = [index * FRAME_SECONDS, late_start + index * FRAME_SECONDS]
    sockets = [(0,), (1,)] if config.split_perspectives else [(0, 1)]

    # Sequence ids. Per socket: one counter over the nominal interleaving on that socket.
    sequence = [index + 1, index + 1]
    if config.numbering == "per-socket" and not config.split_perspectives:
        dues = np.concatenate(nominal)
        which = np.concatenate([np.zeros(frames, np.int8), np.ones(frames, np.int8)])
        order = np.lexsort((which, dues))
        numbers = np.empty(2 * frames, np.int64)
        numbers[order] = np.arange(1, 2 * frames + 1)
        sequence = [numbers[:frames], numbers[frames:]]

    dropped_counts = [0, 0]
    rows: dict[int, list[tuple[np.ndarray, ...]]] = {0: [], 1: []}
    for p in (0, 1):
        due = nominal[p].copy()
        flags = np.zeros(frames, np.int8)
        dropped = rng.random(frames) < config.drop_pct / 100
        late = ~dropped & (rng.random(frames) < config.late_pct / 100)
        due[late] += rng.uniform(*LATE_SECONDS, int(late.sum()))
        flags[late] |= _LATE
        if config.reorder_pct > 0:
            # Frame j is held back until just after frame k (up to ``depth`` later): k and the
            # frames between overtake it. Never sent early: live audio cannot leave before it
            # exists, and a server may rely on that. Events do not overlap, so each reordered
            # frame arrives after exactly the frames that overtook it.
            draws = rng.random(frames)
            steps = rng.integers(1, config.reorder_depth + 1, frames)
            free = ~dropped & ~late
            for j in np.flatnonzero(draws < config.reorder_pct / 100):
                k = j + steps[j]
                if k < frames and free[j : k + 1].all():
                    due[j] = due[k] + _BEFORE
                    free[j : k + 1] = False
                    flags[j] |= _REORDERED
        sent = ~dropped
        dropped_counts[p] = int(dropped.sum())
        kept = np.flatnonzero(sent)
        rows[p].append(
            (due[kept], np.full(len(kept), _MEDIA), sequence[p][kept], kept, flags[kept])
        )
        duplicated = kept[rng.random(len(kept)) < config.duplicate_pct / 100]
        if len(duplicated):
            delay = rng.integers(0, 3, len(duplicated)) * FRAME_SECONDS + _BEFORE
            rows[p].append(
                (
                    due[duplicated] + delay,
                    np.full(len(duplicated), _DUPLICATE),
                    sequence[p][duplicated],
                    duplicated,
                    flags[duplicated],
                )
            )

    plans = []
    for members in sockets:
        parts = []
        for p in members:
            for due, kind, seq, ref, flags in rows[p]:
                parts.append((due, kind, np.full(len(due), p), seq, ref, flags))
        due = np.concatenate([part[0] for part in parts])
        kind = np.concatenate([part[1] for part in parts])
        persp = np.concatenate([part[2] for part in parts])
        seq = np.concatenate([part[3] for part in parts])
        ref = np.concatenate([part[4] for part in parts])
        flags = np.concatenate([part[5] for part in parts])
        media = np.flatnonzero(kind == _MEDIA)
        malformed = rng.binomial(len(media), config.malformed_pct / 100) if len(media) else 0
        if malformed:
            anchors = rng.choice(media, malformed, replace=False)
            kinds = rng.integers(0, len(MALFORMED_KINDS), malformed)
            due = np.concatenate([due, due[anchors] - _BEFORE])
            kind = np.concatenate([kind, np.full(malformed, _MALFORMED)])
            persp = np.concatenate([persp, persp[anchors]])
            seq = np.concatenate([seq, seq[anchors]])
            ref = np.concatenate([ref, kinds])
            flags = np.concatenate([flags, np.zeros(malformed, np.int8)])
        stops = []
        for p in members:
            mine = due[persp == p]
            end = max(nominal[p][-1] + FRAME_SECONDS, float(mine.max()) if len(mine) else 0.0)
            stops.append((end + _BEFORE, p))
        due = np.concatenate([due, [s[0] for s in stops]])
        kind = np.concatenate([kind, np.full(len(stops), _STOP)])
        persp = np.concatenate([persp, [s[1] for s in stops]])
        seq = np.concatenate([seq, np.zeros(len(stops), np.int64)])
        ref = np.concatenate([ref, np.zeros(len(stops), np.int64)])
        flags = np.concatenate([flags, np.zeros(len(stops), np.int8)])
        order = np.lexsort((np.arange(len(due)), due))
        plans.append(
            _SocketPlan(
                perspectives=members,
                connect_at=min(float(nominal[p][0]) for p in members),
                due=due[order],
                kind=kind[order].astype(np.int8),
                perspective=persp[order].astype(np.int8),
                sequence_id=seq[order].astype(np.int64),
                ref=ref[order].astype(np.int64),
                flags=flags[order].astype(np.int8),
            )
        )
    return plans, dropped_counts


# --- Messages ----------------------------------------------------------------------------------


def _malformed_text(kind: int, perspective: str, sequence_id: int) -> str:
    """Bad frames the ingest must count and survive. A bad-base64 frame carries the sequence id
    of the genuine frame sent right after it, so accepting it would corrupt the recording."""
    name = MALFORMED_KINDS[kind]
    if name == "invalid_json":
        return '{"event":"Media","perspective":"' + perspective + '","sequenceId":'
    if name == "unknown_event":
        return json.dumps({"event": "Mystery", "sequenceId": str(sequence_id)})
    if name == "bad_base64":
        return json.dumps(
            {
                "event": "Media",
                "perspective": perspective,
                "sequenceId": str(sequence_id),
                "media": "%%%not-base64%%%",
            }
        )
    return json.dumps({"event": "Media", "perspective": 7, "sequenceId": [sequence_id], "media": 1})


def _utc_now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# --- Running -----------------------------------------------------------------------------------


class _Run:
    """State shared by every call of one simulation."""

    def __init__(self, config: SimulationConfig, audio: StereoAudio, frames: int, seed: int):
        self.config = config
        self.frames = frames
        self.seed = seed
        self.payloads = [frame_payloads(audio.channel(p), frames) for p in PERSPECTIVES]
        self.encoded = [[base64.b64encode(f).decode("ascii") for f in p] for p in self.payloads]
        self.prefixes = [
            '{"event":"Media","perspective":"' + p + '","sequenceId":"' for p in PERSPECTIVES
        ]
        self.send_lag = LagHistogram()
        self.first_media_at: float | None = None
        self.last_media_at: float | None = None
        # (wall, process time) at the first Media and about the last: was the simulator itself
        # the bottleneck?
        self.first_media_cpu = self.last_media_cpu = (0.0, 0.0)
        self.media_sent = 0
        self.calls_live = 0

    def media_cpu(self) -> float | None:
        wall = self.last_media_cpu[0] - self.first_media_cpu[0]
        if self.first_media_at is None or wall < 0.5:
            return None
        return round((self.last_media_cpu[1] - self.first_media_cpu[1]) / wall, 3)


class _CallRun:
    def __init__(self, run: _Run, index: int, call_id: str):
        config = run.config
        self.run = run
        self.config = config
        self.index = index
        self.call_id = call_id
        self.rng = np.random.default_rng([run.seed, index])
        self.report = CallReport(
            call_id=call_id,
            session_id=config.session_id,
            perspectives={p: PerspectiveReport(frames_planned=run.frames) for p in PERSPECTIVES},
            sent_frames=[] if config.keep_sent_frames else None,
        )
        self.ani = config.ani or f"555{(7_000_000 + index) % 10_000_000:07d}"
        self.agent_id = config.agent_id + index
        self.metadata: dict[str, Any] = {
            "callId": call_id,
            "sessionId": config.session_id,
            "ani": self.ani,
            "dnis": config.dnis,
            "accountId": config.account_id,
            "subaccountId": config.sub_account,
            "rcAccountId": config.rc_account_id,
            "agentId": self.agent_id,
            "productType": config.product_type,
            "productId": config.product_id,
            "contentType": "audio/x-mulaw",
            "sampleRateHertz": SAMPLE_RATE,
        }

    def handshake(self) -> tuple[str, dict[str, str]]:
        config = self.config
        params = {
            "callId": self.call_id,
            "sessionId": config.session_id,
            "ani": self.ani,
            "dnis": config.dnis,
            "accountId": config.account_id,
            "subaccountId": config.sub_account,
            "rcAccountId": config.rc_account_id,
            "agentId": str(self.agent_id),
            "productType": config.product_type,
            "productId": str(config.product_id),
        }
        headers: dict[str, str] = {}
        place = config.secret_in if config.secret is not None else "none"
        if place == "query":
            params["secret"] = config.secret
        if place == "header":
            headers["Authorization"] = f"Bearer {config.secret}"
        parts = urlsplit(self.config.url)
        query = "&".join(q for q in (parts.query, urlencode(params)) if q)
        return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, "")), headers

    def opening_messages(self) -> list[str]:
        connected: dict[str, Any] = {
            "event": "Connected",
            "protocol": "AgentSession",
            "version": "1.0.0",
        }
        metadata = dict(self.metadata)
        place = self.config.secret_in if self.config.secret is not None else "none"
        if place == "connected":
            connected["secret"] = self.config.secret
        if place == "start":
            metadata["secret"] = self.config.secret
        return [json.dumps(connected), json.dumps({"event": "Start", "metadata": metadata})]

    def stop_message(self) -> str:
        duration = round(self.run.frames * FRAME_SECONDS, 3)
        return json.dumps(
            {"event": "Stop", "metadata": {"duration": duration, "end_time": _utc_now_iso()}}
        )

    async def execute(self) -> None:
        plans, dropped = _plan_call(self.config, self.run.frames, self.rng)
        for p, count in enumerate(dropped):
            self.report.perspectives[PERSPECTIVES[p]].frames_dropped = count
        self.run.calls_live += 1
        try:
            await asyncio.gather(*(_SocketRun(self, plan).execute() for plan in plans))
        finally:
            self.run.calls_live -= 1


class _SocketRun:
    def __init__(self, call: _CallRun, plan: _SocketPlan):
        self.call = call
        self.plan = plan
        self.run = call.run
        self.config = call.config
        self.position = 0
        self.ws: ClientConnection | None = None
        self.connection: ConnectionReport | None = None
        self.reader: asyncio.Task | None = None

    async def _open(self, attempt: int) -> bool:
        """Connect and send Connected + Start; a refused or failed handshake is recorded."""
        names = [PERSPECTIVES[p] for p in self.plan.perspectives]
        report = ConnectionReport(perspectives=names, attempt=attempt)
        self.call.report.connections.append(report)
        self.connection = report
        url, headers = self.call.handshake()
        try:
            self.ws = await connect(
                url,
                additional_headers=headers,
                open_timeout=self.config.connect_timeout,
                close_timeout=self.config.close_timeout,
                ping_interval=None,
                compression=None,
                user_agent_header="ringadmin-simulator",
            )
        except InvalidStatus as exc:
            report.outcome = "rejected"
            report.status_code = exc.response.status_code
            report.error = str(exc)
            return False
        except (InvalidHandshake, InvalidURI, OSError, TimeoutError) as exc:
            report.outcome = "failed"
            report.error = f"{type(exc).__name__}: {exc}"
            return False
        report.outcome = "accepted"
        self.reader = asyncio.create_task(self._drain_incoming(self.ws, report))
        try:
            for message in self.call.opening_messages():
                await self.ws.send(message)
                report.messages_sent += 1
        except ConnectionClosed as exc:
            self._closed_by_server(exc)
            return False
        return True

    @staticmethod
    async def _drain_incoming(ws: ClientConnection, report: ConnectionReport) -> None:
        """Read whatever the server says, so its pings and close frames are handled."""
        with contextlib.suppress(ConnectionClosed):
            async for _ in ws:
                report.messages_received += 1

    def _closed_by_server(self, exc: ConnectionClosed) -> None:
        report = self.connection
        assert report is not None
        received = exc.rcvd
        report.closed_by = "server" if received is not None else "network"
        report.close_code = received.code if received is not None else 1006
        report.close_reason = received.reason if received is not None else ""

    async def _close(self, *, drop: bool) -> None:
        """Close cleanly (code 1000), or drop: end TCP with no close frame once data is out."""
        ws, report = self.ws, self.connection
        assert ws is not None
        assert report is not None
        if drop:
            ws.transport.close()  # flushes what is buffered, then FIN: the server sees 1006
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ws.wait_closed(), self.config.close_timeout)
            report.closed_by, report.close_code = "client-drop", 1006
        else:
            with contextlib.suppress(ConnectionClosed):
                await ws.close()
            received, sent = ws.protocol.close_rcvd, ws.protocol.close_sent
            # Closes can cross: a server that closed for its own reason says so in its code.
            by_server = ws.protocol.close_rcvd_then_sent or (
                received is not None and sent is not None and received.code != sent.code
            )
            report.closed_by = "server" if by_server else "client"
            report.close_code = ws.close_code
            report.close_reason = ws.close_reason or ""
        await self._stop_reader()

    async def _stop_reader(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader
            self.reader = None

    async def execute(self) -> None:
        loop = asyncio.get_running_loop()
        plan, config = self.plan, self.config
        realtime = config.realtime
        if realtime and plan.connect_at > 0:
            await asyncio.sleep(plan.connect_at)
        try:
            if not await self._open(attempt=0):
                return
            # The stream clock starts when the socket opens, so a slow handshake is not counted
            # as send lag: send lag is the simulator's own lateness (or the server's pushback).
            clock = loop.time() - plan.connect_at
            reconnect_at = config.reconnect_at
            total = len(plan.due)
            while self.position < total:
                chunk_end = min(total, self.position + 256)
                dues = plan.due[self.position : chunk_end].tolist()
                kinds = plan.kind[self.position : chunk_end].tolist()
                persps = plan.perspective[self.position : chunk_end].tolist()
                seqs = plan.sequence_id[self.position : chunk_end].tolist()
                refs = plan.ref[self.position : chunk_end].tolist()
                flags = plan.flags[self.position : chunk_end].tolist()
                for i in range(len(dues)):
                    due = dues[i]
                    if reconnect_at is not None and due >= reconnect_at:
                        reconnect_at = None
                        await self._close(drop=True)
                        if not await self._open(attempt=1):
                            return
                    if realtime:
                        delay = clock + due - loop.time()
                        if delay > 0:
                            await asyncio.sleep(delay)
                    elif i % 32 == 0:
                        await asyncio.sleep(0)  # let the other sockets flood too
                    await self._send_row(
                        kinds[i], persps[i], seqs[i], refs[i], flags[i], clock + due, clock
                    )
                    self.position += 1
            await self._close(drop=False)
        except ConnectionClosed as exc:
            self._closed_by_server(exc)
        except asyncio.CancelledError:  # the run's deadline
            connection = self.connection
            if connection is not None and connection.outcome == "pending":
                connection.outcome = "timeout"
            elif connection is not None and connection.closed_by is None:
                connection.closed_by = "deadline"
            raise
        finally:
            await self._stop_reader()
            if self.ws is not None and not self.ws.transport.is_closing():
                self.ws.transport.abort()
            self._count_unsent()

    async def _send_row(
        self, kind: int, p: int, seq: int, ref: int, flags: int, scheduled: float, clock: float
    ) -> None:
        ws, run, report = self.ws, self.run, self.connection
        assert ws is not None
        assert report is not None
        name = PERSPECTIVES[p]
        perspective = self.call.report.perspectives[name]
        if kind == _STOP:
            await ws.send(self.call.stop_message())
            report.messages_sent += 1
            perspective.stops_sent += 1
            return
        if kind == _MALFORMED:
            await ws.send(_malformed_text(ref, name, seq))
            report.messages_sent += 1
            malformed = self.call.report.malformed_sent
            malformed[MALFORMED_KINDS[ref]] = malformed.get(MALFORMED_KINDS[ref], 0) + 1
            return
        loop_time = asyncio.get_running_loop().time
        started = loop_time()
        sent_at = time.time()
        if self.config.send_sent_at:
            text = f'{run.prefixes[p]}{seq}","media":"{run.encoded[p][ref]}","sentAt":{sent_at!r}}}'
        else:
            text = f'{run.prefixes[p]}{seq}","media":"{run.encoded[p][ref]}"}}'
        await ws.send(text)
        finished = loop_time()
        report.messages_sent += 1
        if finished - started > 0.005:
            report.backpressure_waits += 1
        if self.config.realtime:
            run.send_lag.add((started - scheduled) * 1000.0)
        if run.first_media_at is None:
            run.first_media_at = sent_at
            run.first_media_cpu = (sent_at, time.process_time())
        run.last_media_at = sent_at
        if run.media_sent % 64 == 0:
            run.last_media_cpu = (sent_at, time.process_time())
        run.media_sent += 1
        duplicate = kind == _DUPLICATE
        if duplicate:
            perspective.duplicates_sent += 1
        else:
            perspective.frames_sent += 1
            if flags & _LATE:
                perspective.frames_late += 1
            if flags & _REORDERED:
                perspective.frames_reordered += 1
            if perspective.first_sequence_id is None:
                perspective.first_sequence_id = seq
            perspective.last_sequence_id = seq
        if self.call.report.sent_frames is not None:
            self.call.report.sent_frames.append(
                SentFrame(
                    name,
                    seq,
                    run.payloads[p][ref],
                    duplicate,
                    bool(flags & _LATE),
                    started - clock,
                    sent_at,
                )
            )

    def _count_unsent(self) -> None:
        rest = slice(self.position, None)
        kinds = self.plan.kind[rest]
        persps = self.plan.perspective[rest][kinds == _MEDIA]
        for p in self.plan.perspectives:
            unsent = int(np.count_nonzero(persps == p))
            self.call.report.perspectives[PERSPECTIVES[p]].frames_unsent += unsent
        self.position = len(self.plan.due)


async def _show_progress(run: _Run, total: int, stream: TextIO, started: float) -> None:
    width = 30
    interactive = stream.isatty()
    last_line = time.monotonic()
    while True:
        await asyncio.sleep(0.5)
        done = run.media_sent / total if total else 1.0
        filled = min(width, int(done * width))
        p99 = run.send_lag.percentile(0.99)
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] {done:6.1%} "
            f"{time.monotonic() - started:6.1f}s  calls live {run.calls_live:4d}  "
            f"frames {run.media_sent:,}"
            + (f"  send lag p99 {p99:.0f} ms" if p99 is not None else "")
        )
        if interactive:
            stream.write("\r" + line)
            stream.flush()
        elif time.monotonic() - last_line >= 5:
            stream.write(line + "\n")
            stream.flush()
            last_line = time.monotonic()


def _frames_for(config: SimulationConfig, audio: StereoAudio) -> int:
    seconds = config.duration if config.duration is not None else audio.duration
    return max(1, math.ceil(round(seconds / FRAME_SECONDS, 6)))


async def simulate(config: SimulationConfig) -> SimulationReport:
    """Run every call of ``config`` to completion (or the deadline) and report what was sent.

    Never raises for what the server does: refusals, failures and closes are in the report.
    """
    config.validate()
    seed = config.seed if config.seed is not None else secrets.randbits(32)
    if config.audio is not None:
        audio = config.audio
    elif config.audio_path is not None:
        audio = load_wav(config.audio_path)
    else:
        audio = tone_audio(config.duration or 10.0, seed=seed)
    frames = _frames_for(config, audio)
    run = _Run(config, audio, frames, seed)
    prefix = config.call_id_prefix or f"sim-{secrets.token_hex(4)}"
    calls = [_CallRun(run, i, f"{prefix}-{i + 1}") for i in range(config.calls)]
    seconds = frames * FRAME_SECONDS
    deadline = config.deadline
    if deadline is None:
        deadline = (
            config.ramp + 2 * (seconds + config.late_start_ms / 1000) + 60 + config.calls / 20
        )

    async def start(call: _CallRun) -> None:
        if config.ramp and config.calls > 1:
            await asyncio.sleep(config.ramp * call.index / config.calls)
        await call.execute()

    started_at, started = time.time(), time.monotonic()
    progress = None
    if config.progress:
        total = config.calls * frames * 2
        progress = asyncio.create_task(_show_progress(run, total, sys.stderr, started))
    tasks = [asyncio.create_task(start(call)) for call in calls]
    _done, pending = await asyncio.wait(tasks, timeout=deadline)
    for task in pending:
        task.cancel()
    for outcome in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(outcome, BaseException) and not isinstance(outcome, asyncio.CancelledError):
            raise outcome
    if progress is not None:
        progress.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await progress
        sys.stderr.write("\n" if sys.stderr.isatty() else "")
    return SimulationReport(
        config=config.redacted() | {"call_id_prefix": prefix},
        seed=seed,
        frames_per_perspective=frames,
        calls=[call.report for call in calls],
        started_at=started_at,
        elapsed=time.monotonic() - started,
        send_lag=run.send_lag,
        first_media_at=run.first_media_at,
        last_media_at=run.last_media_at,
        media_cpu=run.media_cpu(),
        timed_out=bool(pending),
    )


# --- Command line ------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The simulator's options, shared by ``python -m streaming.simulator`` and the command."""
    parser.add_argument("--url", default="ws://127.0.0.1:8000/", help="the ingest socket")
    load = parser.add_argument_group("load")
    load.add_argument("--calls", type=int, default=1, help="concurrent calls")
    load.add_argument(
        "--duration", type=float, default=None, help="seconds per call (default 10, or the WAV)"
    )
    load.add_argument("--ramp", type=float, default=0.0, help="spread call starts over S seconds")
    load.add_argument(
        "--realtime",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="pace frames every 20 ms (default) or flood as fast as the server reads",
    )
    audio = load.add_mutually_exclusive_group()
    audio.add_argument("--audio", type=Path, help="stereo or mono WAV (left = agent)")
    audio.add_argument(
        "--tone", action="store_true", help="synthetic conversation (default): 440/660 Hz"
    )
    call = parser.add_argument_group("call")
    call.add_argument("--call-id-prefix", default=None, help="call ids are PREFIX-1, PREFIX-2…")
    call.add_argument("--session-id", default="1")
    call.add_argument("--product-type", default="Queue", choices=["Queue", "Campaign", "Manual"])
    call.add_argument("--product-id", type=int, default=1234)
    call.add_argument("--sub-account", default="99990001", help="RingCX sub-account id")
    call.add_argument("--account-id", default="99990000", help="RingCX main account id")
    call.add_argument("--rc-account-id", default="123456789", help="RingCentral account id")
    call.add_argument("--secret", default=None, help="the streaming profile's secret")
    call.add_argument("--secret-in", default="header", choices=SECRET_PLACES)
    call.add_argument(
        "--no-sent-at", action="store_true", help="omit sentAt (as RingCX itself does)"
    )
    faults = parser.add_argument_group("faults (percentages per frame)")
    faults.add_argument("--late-start-ms", type=float, default=0.0, help="Conference starts later")
    faults.add_argument("--numbering", default="per-perspective", choices=NUMBERINGS)
    faults.add_argument("--reorder", type=float, default=0.0, metavar="PCT")
    faults.add_argument("--reorder-depth", type=int, default=3, metavar="K")
    faults.add_argument("--duplicate", type=float, default=0.0, metavar="PCT")
    faults.add_argument("--drop", type=float, default=0.0, metavar="PCT")
    faults.add_argument("--late", type=float, default=0.0, metavar="PCT", help="sent >1 s late")
    faults.add_argument("--malformed", type=float, default=0.0, metavar="PCT")
    faults.add_argument("--split-perspectives", action="store_true")
    faults.add_argument("--reconnect-at", type=float, default=None, metavar="S")
    faults.add_argument("--seed", type=int, default=None)
    output = parser.add_argument_group("output")
    output.add_argument("--json", action="store_true", help="print the report as JSON")
    output.add_argument("--report-file", type=Path, help="also write the JSON report here")
    output.add_argument("--quiet", action="store_true", help="no progress bar")
    output.add_argument("--connect-timeout", type=float, default=10.0)
    output.add_argument("--deadline", type=float, default=None, help="hard limit for the run")


def config_from_options(options: Mapping[str, Any]) -> SimulationConfig:
    duration = options.get("duration")
    if duration is None and options.get("audio") is None:
        duration = 10.0
    return SimulationConfig(
        url=options["url"],
        calls=options["calls"],
        duration=duration,
        ramp=options["ramp"],
        audio_path=options.get("audio"),
        call_id_prefix=options["call_id_prefix"],
        session_id=options["session_id"],
        product_type=options["product_type"],
        product_id=options["product_id"],
        sub_account=options["sub_account"],
        account_id=options["account_id"],
        rc_account_id=options["rc_account_id"],
        secret=options["secret"],
        secret_in=options["secret_in"],
        realtime=options["realtime"],
        send_sent_at=not options["no_sent_at"],
        late_start_ms=options["late_start_ms"],
        numbering=options["numbering"],
        reorder_pct=options["reorder"],
        reorder_depth=options["reorder_depth"],
        duplicate_pct=options["duplicate"],
        drop_pct=options["drop"],
        late_pct=options["late"],
        malformed_pct=options["malformed"],
        split_perspectives=options["split_perspectives"],
        reconnect_at=options["reconnect_at"],
        seed=options["seed"],
        connect_timeout=options["connect_timeout"],
        deadline=options["deadline"],
        progress=not options["quiet"] and not options["json"],
    )


def format_summary(report: SimulationReport, *, max_calls: int = 50) -> str:
    """The human summary: totals, connection outcomes, send lag, then one line per call."""
    config, totals = report.config, report.totals()
    mode = "real time" if config["realtime"] else "flood"
    lines = [
        f"RingCX simulation: {totals['calls']} call(s) x {report.frames_per_perspective} frames "
        f"({report.frames_per_perspective * FRAME_SECONDS:.1f} s) to {config['url']} "
        f"[{mode}, seed {report.seed}] in {report.elapsed:.1f} s"
        + ("  TIMED OUT" if report.timed_out else ""),
    ]
    c = totals["connections"]
    rejected = ", ".join(f"HTTP {k}: {v}" for k, v in c["rejected"].items()) or "0"
    closed = ", ".join(f"{k}: {v}" for k, v in sorted(c["closed"].items())) or "none"
    lines.append(
        f"connections: {c['accepted']} accepted, rejected {rejected}, {c['failed']} failed, "
        f"{c['timeout']} timed out; closed: {closed}"
    )
    for name, p in totals["perspectives"].items():
        lines.append(
            f"{name:<11} sent {p['frames_sent']:>8,} of {p['frames_planned']:,}  dropped "
            f"{p['frames_dropped']:,}  duplicates {p['duplicates_sent']:,}  reordered "
            f"{p['frames_reordered']:,}  late {p['frames_late']:,}  unsent {p['frames_unsent']:,}"
            f"  stops {p['stops_sent']:,}"
        )
    if totals["malformed_sent"]:
        lines.append(
            "malformed: " + ", ".join(f"{k} {v}" for k, v in totals["malformed_sent"].items())
        )
    lag = report.send_lag
    if lag.count:
        lines.append(
            f"send lag vs schedule: p50 {lag.percentile(0.5):.0f} ms, p99 "
            f"{lag.percentile(0.99):.0f} ms, max {lag.max_ms:.1f} ms"
        )
    if totals["media_per_second"]:
        lines.append(f"media messages per second: {totals['media_per_second']:,.0f}")
    lines.append("calls:")
    for call in report.calls[:max_calls]:
        parts = []
        for name, p in call.perspectives.items():
            extras = [
                f"{label} {value}"
                for label, value in (
                    ("dropped", p.frames_dropped),
                    ("dup", p.duplicates_sent),
                    ("reordered", p.frames_reordered),
                    ("late", p.frames_late),
                    ("unsent", p.frames_unsent),
                )
                if value
            ]
            parts.append(f"{name} {p.frames_sent}" + (f" ({', '.join(extras)})" if extras else ""))
        outcomes = []
        for conn in call.connections:
            if conn.outcome == "rejected":
                outcomes.append(f"rejected HTTP {conn.status_code}")
            elif conn.outcome != "accepted":
                outcomes.append(f"{conn.outcome}: {conn.error}")
            else:
                outcomes.append(
                    f"closed by {conn.closed_by} {conn.close_code}"
                    + (f" {conn.close_reason!r}" if conn.close_reason else "")
                )
        lines.append(f"  {call.call_id}: {'; '.join(parts)} | {'; '.join(outcomes)}")
    if len(report.calls) > max_calls:
        lines.append(f"  … {len(report.calls) - max_calls} more (use --json for all)")
    return "\n".join(lines)


def run_from_options(options: Mapping[str, Any], *, stdout: TextIO) -> SimulationReport:
    """Run the simulation the options describe and print its report; used by both CLIs."""
    config = config_from_options(options)
    report = asyncio.run(simulate(config))
    data = report.to_dict()
    if options.get("report_file"):
        Path(options["report_file"]).write_text(json.dumps(data))
    stdout.write((json.dumps(data, indent=2) if options["json"] else format_summary(report)) + "\n")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m streaming.simulator", description=__doc__.split("\n\n")[0]
    )
    add_arguments(parser)
    options = vars(parser.parse_args(argv))
    try:
        report = run_from_options(options, stdout=sys.stdout)
    except (ValueError, AudioError, OSError) as exc:
        parser.error(str(exc))
    return 0 if report.ok else 1


__all__ = [
    "CONFERENCE",
    "MULAW_DECODE_TABLE",
    "PARTICIPANT",
    "PERSPECTIVES",
    "CallReport",
    "ConnectionReport",
    "LagHistogram",
    "PerspectiveReport",
    "SentFrame",
    "SimulationConfig",
    "SimulationReport",
    "StereoAudio",
    "load_wav",
    "mulaw_decode",
    "mulaw_encode",
    "simulate",
    "tone_audio",
]

if __name__ == "__main__":
    sys.exit(main())
