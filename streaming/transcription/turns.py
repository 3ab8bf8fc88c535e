"""Two channels' segments → one conversation: speaker turns in time order (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from streaming.transcription.engines.base import Segment, StereoResult

AGENT, CALLER = "agent", "caller"
TURN_GAP_SECONDS = 1.5  # a pause longer than this starts a new turn of the same speaker
SPLIT_GAP_SECONDS = 1.0  # a silence between two words this long splits an engine's segment


@dataclass(frozen=True)
class Turn:
    speaker: str
    segment: Segment


def split_at_pauses(segments: list[Segment], *, gap: float = SPLIT_GAP_SECONDS) -> list[Segment]:
    """Cut segments where their words pause: engines join speech across the other speaker's
    turn (one channel hears silence there), which would hide that turn inside this one."""
    out: list[Segment] = []
    for segment in segments:
        words = segment.words
        cuts = [i for i in range(1, len(words)) if words[i].start - words[i - 1].end >= gap]
        if not cuts:
            out.append(segment)
            continue
        for begin, end in zip([0, *cuts], [*cuts, len(words)], strict=True):
            part = words[begin:end]
            out.append(
                Segment(
                    start=part[0].start,
                    end=part[-1].end,
                    text=" ".join(w.text for w in part),
                    confidence=segment.confidence,
                    words=part,
                )
            )
    return out


def merge_turns(result: StereoResult, *, gap: float = TURN_GAP_SECONDS) -> list[Turn]:
    """Order both speakers' segments by time and join a speaker's consecutive segments into
    one turn when nobody else spoke between them and the pause is short."""
    tagged = sorted(
        [(s.start, 0, AGENT, s) for s in split_at_pauses(result.agent)]
        + [(s.start, 1, CALLER, s) for s in split_at_pauses(result.caller)],
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
