"""Live transcript lines: audio out to the live transcription workers, lines back to browsers
and, once final, to the database (batched once per tick period)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from streaming.ingest.db import in_db_thread
from streaming.ingest.registry import CallKey, LiveCall
from streaming.ingest.tasks import Spawn
from streaming.transcription.engines.base import Segment
from streaming.transcription.live_link import LinkSettings, LiveTranscriptionLink
from streaming.transcription.redaction import transcript_redact
from streaming.transcription.services import LIVE_CONTEXT_SEGMENTS, live_transcript_append_many

logger = logging.getLogger("streaming.ingest")

Publish = Callable[[LiveCall, dict[str, Any]], Coroutine[Any, Any, None]]


@dataclass(eq=False)
class LiveTranscriptState:
    """A call's live transcript lines on their way to browsers and the database."""

    live: LiveCall
    seq_by_utterance: dict[tuple[str, int], int] = field(default_factory=dict)
    unsaved_finals: list[dict[str, Any]] = field(default_factory=list)
    # The last finals as published (redacted): the context a new line is redacted with.
    published: list[dict[str, Any]] = field(default_factory=list)

    def seq_for(self, speaker: str, utterance: int) -> int:
        key = (speaker, utterance)
        seq = self.seq_by_utterance.get(key)
        if seq is None:
            seq = self.seq_by_utterance[key] = len(self.seq_by_utterance) + 1
        return seq


class LiveTranscripts:
    """The live transcription of one event loop's calls (inactive without workers)."""

    def __init__(self, settings: LinkSettings | None, *, publish: Publish, spawn: Spawn) -> None:
        self._publish = publish
        self._spawn = spawn
        self.link: LiveTranscriptionLink | None = (
            LiveTranscriptionLink(settings, on_result=self._on_result) if settings else None
        )
        self._states: dict[CallKey, LiveTranscriptState] = {}

    def attach(self, live: LiveCall) -> None:
        """Send this call's audio to a live transcription worker (when one is configured)."""
        if self.link is None:
            return
        if self.link.attach(live.key, live.pipeline) is not None:
            self._states[live.key] = LiveTranscriptState(live=live)

    def detach(self, key: CallKey) -> None:
        """The call's last audio has been sent; its results may still arrive."""
        if self.link is not None:
            self.link.detach(key)

    def tick(self) -> None:
        """Once per tick period: send the audio taps, save the final lines that came back."""
        if self.link is not None:
            self.link.pump()
            self._save()

    def _on_result(self, key: CallKey, speaker: str, data: dict[str, Any]) -> None:
        state = self._states.get(key)
        if state is None:
            return
        try:
            line = {
                "type": "transcript",
                "speaker": speaker,
                "text": str(data["text"]),
                "start": float(data["start"]),
                "end": float(data["end"]),
                "is_final": bool(data["is_final"]),
                "seq": state.seq_for(speaker, int(data["utterance"])),
            }
        except (KeyError, TypeError, ValueError) as exc:
            logger.warning("malformed live transcript result dropped: %s", exc)
            return
        if line["is_final"]:
            if not line["text"]:
                return
            # Stored through the same redaction (with the stored lines as context).
            state.unsaved_finals.append({**line, "words": data.get("words") or []})
        for shown in _redacted_for_browsers(state, line):
            self._spawn(self._publish(state.live, shown))

    def _save(self) -> None:
        assert self.link is not None  # only ticked with a link
        batch: dict[int, list[dict[str, Any]]] = {}
        for key, state in list(self._states.items()):
            if state.unsaved_finals and state.live.call_pk is not None:
                batch[state.live.call_pk] = state.unsaved_finals
                state.unsaved_finals = []
            if key not in self.link.feeds and not state.unsaved_finals:
                del self._states[key]
        if batch:
            self._spawn(self._write(batch))

    async def _write(self, batch: dict[int, list[dict[str, Any]]]) -> None:
        try:
            await in_db_thread(live_transcript_append_many)(lines_by_call=batch)
        except Exception:
            logger.exception("live transcript lines not saved; the post-call transcript will be")


def _redacted_for_browsers(
    state: LiveTranscriptState, line: dict[str, Any]
) -> list[dict[str, Any]]:
    """The line redacted with the call's last finals as context, and those earlier finals
    again (same speaker and seq: browsers replace them) when a number spans them and it."""
    context = state.published
    redacted = transcript_redact(
        [(shown["speaker"], _segment(shown)) for shown in context]
        + [(line["speaker"], _segment(line))]
    )
    out = []
    for n, (shown, kept) in enumerate(zip(context, redacted, strict=False)):
        if kept.changed:
            context[n] = {**shown, "text": kept.segment.text}
            out.append(context[n])
    line = {**line, "text": redacted[-1].segment.text}
    if line["is_final"]:
        context.append(line)
        del context[:-LIVE_CONTEXT_SEGMENTS]
    return [*out, line]


def _segment(line: dict[str, Any]) -> Segment:
    return Segment(start=line["start"], end=line["end"], text=line["text"])
