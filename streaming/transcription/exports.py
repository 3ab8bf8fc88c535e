"""A transcript as a file to download: plain text, JSON, or WebVTT captions for the recording.

Pure functions over turns (anything with ``seq``, ``speaker``, ``start``, ``end``, ``text``,
``confidence``): no database, so each format is tested on its own. Cue text in WebVTT is
escaped (``&``, ``<``, ``>``; the last also keeps ``-->`` out of a cue) and never has a blank
line, which would end the cue early. Every format redacts the turns again, together (card
numbers, security codes, SSNs): stored text is redacted already, but a transcript stored before
redaction existed must not leave the building readable.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from streaming.transcription.engines.base import Segment
from streaming.transcription.redaction import transcript_redact

SPEAKER_LABELS = {"agent": "Agent", "caller": "Caller"}


class Turn(Protocol):
    seq: int
    speaker: str
    start: float
    end: float
    text: str
    confidence: float | None


def speaker_label(speaker: str) -> str:
    return SPEAKER_LABELS.get(speaker, speaker.title() or "Unknown")


MAX_SECONDS = 10_000_000.0  # about 115 days: a stored time past it is corrupt, not a call


def _seconds(value: float) -> float:
    return min(value, MAX_SECONDS) if math.isfinite(value) and value > 0 else 0.0


def clock(seconds: float) -> str:
    """``HH:MM:SS`` (hours grow past 99 if they must)."""
    whole = int(_seconds(seconds))
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def vtt_timestamp(seconds: float) -> str:
    """``HH:MM:SS.mmm``, as WebVTT requires (hours always present)."""
    millis = round(_seconds(seconds) * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def vtt_escape(text: str) -> str:
    """Cue text: markup characters escaped, lines kept, blank lines removed."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    lines = (" ".join(line.split()) for line in escaped.splitlines())
    return "\n".join(line for line in lines if line)


@dataclass(frozen=True)
class _Redacted:
    seq: int
    speaker: str
    start: float
    end: float
    text: str
    confidence: float | None


def redacted_turns(turns: Iterable[Turn]) -> list[_Redacted]:
    """The turns with their text redacted as one conversation (numbers split across turns)."""
    listed = list(turns)
    redacted = transcript_redact(
        [(t.speaker, Segment(start=0.0, end=0.0, text=t.text)) for t in listed]
    )
    return [
        _Redacted(t.seq, t.speaker, t.start, t.end, kept.segment.text, t.confidence)
        for t, kept in zip(listed, redacted, strict=True)
    ]


def transcript_text(turns: Iterable[Turn], *, heading: str = "") -> str:
    """One line per turn: ``[HH:MM:SS] Agent: text``."""
    lines = [heading, ""] if heading else []
    lines.extend(
        f"[{clock(turn.start)}] {speaker_label(turn.speaker)}: {_one_line(turn.text)}"
        for turn in redacted_turns(turns)
    )
    return "\n".join(lines) + "\n"


def transcript_json(turns: Iterable[Turn], *, about: Mapping[str, Any]) -> dict[str, Any]:
    """``about`` (the call and the transcript's engine) and the turns, times in seconds."""
    return {
        **about,
        "turns": [
            {
                "seq": turn.seq,
                "speaker": turn.speaker,
                "start": round(_seconds(turn.start), 3),
                "end": round(max(_seconds(turn.end), _seconds(turn.start)), 3),
                "text": turn.text,
                "confidence": turn.confidence,
            }
            for turn in redacted_turns(turns)
        ],
    }


def transcript_webvtt(turns: Iterable[Turn]) -> str:
    """WebVTT captions, one cue per turn with the speaker as its voice (``<v Agent>``)."""
    cues = ["WEBVTT", ""]
    for number, turn in enumerate(redacted_turns(turns), start=1):
        text = vtt_escape(turn.text)
        if not text:
            continue
        start = _seconds(turn.start)
        end = max(_seconds(turn.end), start)
        cues.append(str(number))
        cues.append(f"{vtt_timestamp(start)} --> {vtt_timestamp(end)}")
        cues.append(f"<v {vtt_escape(speaker_label(turn.speaker))}>{text}")
        cues.append("")
    return "\n".join(cues)
