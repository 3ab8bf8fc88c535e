"""What to simulate: the calls, the audio, where the secret goes and which faults to inject."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .audio import StereoAudio

MALFORMED_KINDS = ("invalid_json", "unknown_event", "bad_base64", "wrong_types")
SECRET_PLACES = ("header", "query", "start", "connected", "none")
NUMBERINGS = ("per-perspective", "per-socket")
LATE_SECONDS = (1.1, 1.6)  # how late a --late frame is sent (RingCX-side stall of > 1 s)


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
