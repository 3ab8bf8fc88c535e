"""Two channels' segments → one conversation: speaker turns in time order (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from streaming.transcription.engines.base import Segment, StereoResult

AGENT, CALLER = "agent", "caller"
TURN_GAP_SECONDS = 1.5  # a pause longer than this starts a new turn of the same speaker


@dataclass(frozen=True)
class Turn:
    speaker: str
    segment: Segment


def merge_turns(result: StereoResult, *, gap: float = TURN_GAP_SECONDS) -> list[Turn]:
    """Order both speakers' segments by time and join a speaker's consecutive segments into
    one turn when nobody else spoke between them and the pause is short."""
    tagged = sorted(
        [(s.start, 0, AGENT, s) for s in result.agent]
        + [(s.start, 1, CALLER, s) for s in result.caller],
        key=lambda item: (item[0], item[1]),
    )
    turns: list[Turn] = []
    for _start, _order, speaker, segment in tagged:
        previous = turns[-1] if turns else None
        if (
            previous is not None
            and previous.speaker == speaker
            and segment.start - previous.segment.end <= gap
        ):
            turns[-1] = Turn(speaker, _join(previous.segment, segment))
        else:
            turns.append(Turn(speaker, segment))
    return turns


def _join(first: Segment, second: Segment) -> Segment:
    confidences = [c for c in (first.confidence, second.confidence) if c is not None]
    return Segment(
        start=first.start,
        end=max(first.end, second.end),
        text=f"{first.text} {second.text}".strip(),
        confidence=min(confidences) if confidences else None,
        words=first.words + second.words,
    )
