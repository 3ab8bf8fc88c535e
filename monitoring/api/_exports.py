"""Transcript segments as WebVTT: a pure function of the segments.

Temporary home: the transcript exports of the call page (``transcript_as_text/json/vtt``) will
replace this module, and the API will call them instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Protocol

SPEAKER_LABELS = {"agent": "Agent", "caller": "Caller"}


class SegmentLike(Protocol):
    speaker: str
    start: float
    end: float
    text: str


# Far past any call (the ingest stops at 8 hours); keeps the arithmetic in range.
MAX_SECONDS = 10**7


def sane_seconds(seconds: float) -> float:
    """A time as stored, made displayable: negative or non-finite ones (never valid) become 0,
    absurdly large ones ``MAX_SECONDS``."""
    if not math.isfinite(seconds) or seconds < 0:
        return 0.0
    return min(seconds, MAX_SECONDS)


def vtt_timestamp(seconds: float) -> str:
    """``hh:mm:ss.mmm`` (hours grow past two digits when needed)."""
    millis = round(sane_seconds(seconds) * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def _cue_text(text: str) -> str:
    # One line (a blank line would end the cue), and WebVTT's three reserved characters escaped
    # ("-->" cannot survive: its ">" is escaped).
    flat = " ".join(text.split())
    return flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def segments_as_vtt(segments: Iterable[SegmentLike]) -> str:
    """A WebVTT file: one cue per segment, the speaker as a voice span (``<v Agent>``)."""
    lines = ["WEBVTT", ""]
    for number, segment in enumerate(segments, start=1):
        start = sane_seconds(segment.start)
        end = max(sane_seconds(segment.end), start)
        voice = SPEAKER_LABELS.get(segment.speaker, "Unknown")
        lines += [
            str(number),
            f"{vtt_timestamp(start)} --> {vtt_timestamp(end)}",
            f"<v {voice}>{_cue_text(segment.text)}",
            "",
        ]
    return "\n".join(lines)
