"""The live calls page's feed: one digest of this process's live calls per period.

Each browser on ``/calls/live/`` would otherwise need every call's own events; with hundreds of
calls and several viewers that is a message per call per viewer per tick. Instead the ingest
sends ONE message per period to the ``calls.live`` group with every live call of this process
(seconds, levels, its latest transcript line), plus immediate notices when a call starts or
stops. Each viewer's socket filters the digest to what its user may see. Nothing is built when
nobody can listen (the in-process layer with no browser in the group), and a digest still on
its way is never queued behind: the next one carries the same, fresher, information.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any

from channels.layers import BaseChannelLayer, InMemoryChannelLayer, get_channel_layer
from django.conf import settings

from ringadmin.calls.groups import LIVE_CALLS_GROUP
from streaming.ingest.registry import CallRegistry, LiveCall
from streaming.ingest.tasks import Spawn

logger = logging.getLogger("streaming.ingest")

LINE_CHARS = 240  # a digest carries the latest line's end, not a transcript
SEND_TIMEOUT = 2.0


def _level(value: float | None) -> float | None:
    return round(value, 1) if isinstance(value, float | int) and math.isfinite(value) else None


def digest_entry(live: LiveCall, line: dict[str, Any] | None) -> dict[str, Any]:
    """One call in a digest: what the live calls page shows of it."""
    writer = live.pipeline.writer
    levels = writer.levels
    return {
        "id": live.call_pk,
        "seconds": round(writer.committed / 8000, 1),
        "levels": {"agent": _level(levels.left_dbfs), "caller": _level(levels.right_dbfs)},
        "line": line,
    }


class LiveDigest:
    """Per ingest runtime: the latest transcript line of each call and the digest sender."""

    def __init__(
        self, *, registry: CallRegistry, spawn: Spawn, period: float | None = None
    ) -> None:
        self.registry = registry
        self._spawn = spawn
        self.period = settings.INGEST_LIVE_DIGEST_SECONDS if period is None else period
        self.last_lines: dict[int, dict[str, Any]] = {}  # call pk → its latest line
        self.sent = 0
        self.skipped = 0  # periods whose digest was not sent: the previous one still on its way
        self._last_sent = 0.0
        self._sending: asyncio.Task | None = None

    @staticmethod
    def listened(layer: BaseChannelLayer | None) -> bool:
        """Could a live calls page receive it? Always through a shared layer (Redis); with
        the in-process layer only when a browser socket of this process joined the group."""
        if layer is None:
            return False
        return not isinstance(layer, InMemoryChannelLayer) or LIVE_CALLS_GROUP in layer.groups

    # --- hooks of the runtime -----------------------------------------------------------------
    def on_event(self, live: LiveCall, payload: dict[str, Any]) -> None:
        """Every call event the runtime publishes passes here first (cheap: no message for
        progress; a notice for start and stop; transcript lines kept for the next digest)."""
        pk = live.call_pk
        if pk is None:
            return
        kind = payload.get("type")
        if kind == "transcript":
            if self.registry.live.get(live.key) is live:  # results may outlive the call
                self.last_lines[pk] = {
                    "speaker": payload.get("speaker"),
                    "text": str(payload.get("text", ""))[-LINE_CHARS:],
                    "is_final": bool(payload.get("is_final")),
                }
        elif kind == "call.started":
            self._notify({"type": "call.started", "id": pk})
        elif kind == "call.stopped":
            self.last_lines.pop(pk, None)
            self._notify({"type": "call.stopped", "id": pk, "status": payload.get("status")})

    def tick(self, now: float) -> None:
        """Called on every whole tick period; sends a digest once per ``period``."""
        if self.period <= 0 or now - self._last_sent < self.period:
            return
        self._last_sent = now
        layer = get_channel_layer()
        if not self.listened(layer):
            return
        if self._sending is not None and not self._sending.done():
            self.skipped += 1
            return
        message = self.build()
        if message is None:
            return
        self._sending = self._spawn(self._send(layer, message))

    def build(self) -> dict[str, Any] | None:
        """This process's digest, or None when it has no live call with a row yet."""
        calls = []
        live_pks = set()
        for live in self.registry.live.values():
            if live.call_pk is None or live.finalizing:
                continue
            live_pks.add(live.call_pk)
            calls.append(digest_entry(live, self.last_lines.get(live.call_pk)))
        for pk in [pk for pk in self.last_lines if pk not in live_pks]:
            del self.last_lines[pk]  # bounded by the live calls, whatever went missing
        if not calls:
            return None
        return {"type": "calls.digest", "at": time.time(), "calls": calls}

    # --- sending -----------------------------------------------------------------------------
    def _notify(self, notice: dict[str, Any]) -> None:
        layer = get_channel_layer()
        if self.listened(layer):
            self._spawn(self._send(layer, {"type": "calls.notice", "notice": notice}))

    async def _send(self, layer: BaseChannelLayer, message: dict[str, Any]) -> None:
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                await layer.group_send(LIVE_CALLS_GROUP, message)
        except Exception as exc:  # best effort, like every call event
            logger.warning("live calls digest not delivered: %s", exc)
            return
        if message["type"] == "calls.digest":
            self.sent += 1
