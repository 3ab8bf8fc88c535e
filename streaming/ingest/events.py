"""Call events for browsers: one channel-layer group per call (``call.<id>``).

Lifecycle events (started, stopped, transcript lines) are sent at once. Progress events are
queued by the ticker, at most one per call per event period, and one publisher task sends the
queue in order, so hundreds of calls' events cost no task each.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer

from streaming.ingest.registry import LiveCall

logger = logging.getLogger("streaming.ingest")

OUTBOX_LIMIT = 10_000  # progress events waiting for the channel layer


class CallEvents:
    """The event outbox of one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, events_hz: float) -> None:
        self.loop = loop
        # how often a live call's progress is sent; None: never
        self.period: float | None = 1.0 / events_hz if events_hz > 0 else None
        self.events_dropped = 0
        self._outbox: list[tuple[LiveCall, dict[str, Any]]] = []
        self._publisher: asyncio.Task | None = None
        # told of every call event before it is sent (the live calls page's digest)
        self.observers: list[Callable[[LiveCall, dict[str, Any]], None]] = []

    @staticmethod
    def listened(live: LiveCall, layer=None) -> bool:
        """Could anyone receive this call's events? Always, through a shared layer (Redis);
        with the in-process layer, only when a browser socket in this process joined."""
        layer = layer or get_channel_layer()
        if layer is None or live.call_pk is None:
            return False
        return not isinstance(layer, InMemoryChannelLayer) or live.group in layer.groups

    async def publish(self, live: LiveCall, payload: dict[str, Any]) -> None:
        for observer in self.observers:
            observer(live, payload)
        layer = get_channel_layer()
        if not self.listened(live, layer):
            return
        payload = {"call_id": live.call_pk, "ringcx_call_id": live.key[0], **payload}
        try:
            async with asyncio.timeout(2.0):
                await layer.group_send(live.group, {"type": "call.event", "payload": payload})
        except Exception as exc:  # events are best effort; the recording is not
            logger.warning("call event not delivered: %s", exc)

    def send_progress(self, live: LiveCall, now: float) -> None:
        """The ticker's turn for this call (its event period elapsed): queue its progress,
        when anyone could receive it."""
        live.last_event = now
        if self.listened(live):
            self.publish_soon(live, progress(live))

    def publish_soon(self, live: LiveCall, payload: dict[str, Any]) -> None:
        """Queue a progress event. If the channel layer falls far behind, new ones are
        dropped (the next one carries the same, fresher, information)."""
        if len(self._outbox) >= OUTBOX_LIMIT:
            self.events_dropped += 1
            if self.events_dropped in (1, 100) or self.events_dropped % 10_000 == 0:
                logger.warning(
                    "call progress events dropped (%d so far): the channel layer is too slow",
                    self.events_dropped,
                )
            return
        self._outbox.append((live, payload))
        if self._publisher is None or self._publisher.done():
            self._publisher = self.loop.create_task(self._publish_outbox())

    async def _publish_outbox(self) -> None:
        while self._outbox:
            batch, self._outbox = self._outbox, []
            for live, payload in batch:
                await self.publish(live, payload)


def progress(live: LiveCall) -> dict[str, Any]:
    """A live call's progress: seconds recorded, the last levels, frames written per leg."""
    writer = live.pipeline.writer
    tracks = live.pipeline.tracks
    return {
        "type": "call.progress",
        "seconds": round(writer.committed / 8000, 2),
        "levels": {"agent": writer.levels.left_dbfs, "caller": writer.levels.right_dbfs},
        "frames": {name: track.frames_written for name, track in tracks.items()},
    }
