"""The layout of ``Call.stream_stats``, defined once: what the ingest writes, what is shown.

The ingest's audio pipeline (``streaming.audio.pipeline``) builds these dictionaries, and the
admin and ``manage.py calls`` show every key listed here, in this order (then any key a newer
writer added that is not listed yet). Adding a key to a layout below is enough for it to be
shown; ``LABELS`` only gives it a better heading than its name.

Pure: no Django, no Celery (``ringadmin/__init__.py`` imports nothing), so the pure audio
pipeline may import it. No ``from __future__ import annotations`` here: ``TypedDict`` reads
``NotRequired`` from the evaluated annotations.
"""

from dataclasses import dataclass
from typing import NotRequired, TypedDict


class PerspectiveStats(TypedDict):
    """One leg (``Participant`` = agent, ``Conference`` = caller), across its sockets."""

    channel: str  # "left" (agent) or "right" (caller)
    frames_received: int
    duplicates: int
    reordered: int
    gaps_filled_frames: int  # lost frames filled with silence
    gaps_filled_ms: int
    silence_refused_ms: int  # silence asked for past the call's clock, not written
    late_dropped: int  # frames that arrived after their place was written
    sequence_jumps: int  # sequence numbers far from the leg's numbering
    frames_written: int
    bytes: int  # mu-law bytes received
    frame_bytes: int  # the leg's usual frame, what a lost frame is filled with
    first_sequence: int | None
    last_sequence: int | None
    offset_frames: int | None  # where the leg starts in the recording
    samples_written: int
    stopped: bool


class RecordingStats(TypedDict):
    format: str
    channels: int
    sample_rate: int
    seconds: float
    bytes: int
    patched_samples: int  # written again after a late frame filled a gap
    # Added after the call: by the fingerprint task, and by the recovery of an interrupted one.
    sha256: NotRequired[str]
    file_bytes: NotRequired[int]
    recovered: NotRequired[bool]
    # A call resumed in a new recording: the seconds recorded before it (ingest statistics).
    earlier_seconds: NotRequired[float]


class TapStats(TypedDict):
    """The live listeners of the call's audio (live transcription)."""

    subscribers: int
    dropped: int  # chunks a slow listener missed


class LagStats(TypedDict):
    """How long frames waited in the ingest, milliseconds."""

    count: int
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None
    histogram: dict[str, int]  # bucket (ms) → frames


class StreamStats(TypedDict):
    numbering: str  # how the sender numbers frames: per perspective, per socket, or mixed
    sockets: int
    errors: dict[str, int]  # kind of bad frame → count
    perspectives: dict[str, PerspectiveStats]
    recording: RecordingStats
    taps: TapStats
    lag_ms: NotRequired[LagStats]  # when measured


@dataclass(frozen=True)
class Label:
    long: str  # the admin's heading
    short: str  # the terminal table's column heading


LABELS: dict[type, dict[str, Label]] = {
    PerspectiveStats: {
        "frames_received": Label("frames received", "FRAMES"),
        "duplicates": Label("duplicates", "DUPS"),
        "gaps_filled_frames": Label("gap frames filled", "GAP FRAMES"),
        "gaps_filled_ms": Label("gap ms filled", "GAP MS"),
        "silence_refused_ms": Label("silence ms refused", "REFUSED MS"),
        "late_dropped": Label("late dropped", "LATE"),
        "sequence_jumps": Label("sequence jumps", "JUMPS"),
        "frames_written": Label("frames written", "WRITTEN"),
        "first_sequence": Label("first sequence", "FIRST SEQ"),
        "last_sequence": Label("last sequence", "LAST SEQ"),
        "offset_frames": Label("offset frames", "OFFSET"),
        "samples_written": Label("samples written", "SAMPLES"),
    },
}


def layout_keys(layout: type) -> tuple[str, ...]:
    """A layout's keys, in the order they are shown."""
    return tuple(layout.__annotations__)


def label(layout: type, key: str) -> Label:
    """A key's headings: from ``LABELS``, else made from its name."""
    found = LABELS.get(layout, {}).get(key)
    return found or Label(key.replace("_", " "), key.replace("_", " ").upper())
