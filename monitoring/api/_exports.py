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


def vtt_timestamp(seconds: float) -> str:
    """``hh:mm:ss.mmm``; negative or non-finite times (never valid) become 0."""
    if not math.isfinite(seconds) or seconds < 0:
        seconds = 0.0
    millis = round(seconds * 1000)
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
        start = vtt_timestamp(segment.start)
        end = vtt_timestamp(max(segment.end, segment.start))
        voice = SPEAKER_LABELS.get(segment.speaker, "Unknown")
        lines += [str(number), f"{start} --> {end}", f"<v {voice}>{_cue_text(segment.text)}", ""]
    return "\n".join(lines)
