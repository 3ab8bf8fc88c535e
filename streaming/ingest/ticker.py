"""The one ticker task that keeps every live call of this process moving.

It releases audio that waited a whole reorder window, commits recordings to disk, enforces
time limits, queues call progress events, collects the statistics batch, checks each socket's
limits and exchanges live transcription audio and lines. Nothing here runs per frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from ringadmin.calls.models import CallStatus
from streaming.ingest.config import IngestConfig
from streaming.ingest.endings import CallEndings
from streaming.ingest.events import CallEvents
from streaming.ingest.live_digest import LiveDigest
from streaming.ingest.registry import CallRegistry, LiveCall
from streaming.ingest.shedding import LoadShedding
from streaming.ingest.stats_batch import StatsBatch
from streaming.ingest.tasks import Spawn
from streaming.ingest.transcript_results import LiveTranscripts

logger = logging.getLogger("streaming.ingest")

TICK_SLICES = 10  # each tick period is split in this many slices of calls


class Ticker:
    """Drives the other parts of the runtime, a slice of the calls at a time."""

    def __init__(
        self,
        config: IngestConfig,
        *,
        registry: CallRegistry,
        endings: CallEndings,
        events: CallEvents,
        stats: StatsBatch,
        transcripts: LiveTranscripts,
        shedding: LoadShedding,
        live_digest: LiveDigest,
        spawn: Spawn,
    ) -> None:
        self.config = config
        self.registry = registry
        self.endings = endings
        self.events = events
        self.stats = stats
        self.transcripts = transcripts
        self.shedding = shedding
        self.live_digest = live_digest
        self.spawn = spawn
        self._task: asyncio.Task | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._task = loop.create_task(self._tick_forever(loop), name="ingest-ticker")

    async def shutdown(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _tick_forever(self, loop: asyncio.AbstractEventLoop) -> None:
        """Every call is ticked every ``tick_seconds``, a tenth of them at a time: ticking
        hundreds of calls at once would hold the event loop long enough to delay frames. How
        late each sleep wakes is the loop's lag, which load shedding watches."""
        interval = self.config.tick_seconds / TICK_SLICES
        expected = loop.time() + interval
        part = 0
        while True:
            await asyncio.sleep(max(0.0, expected - loop.time()))
            current = loop.time()
            self.shedding.observe_lag(max(0.0, current - expected) * 1000)
            expected = current + interval
            try:
                self.tick(time.time(), part=part, parts=TICK_SLICES)
            except Exception:
                logger.exception("ingest tick failed; continuing")
            part = (part + 1) % TICK_SLICES

    def tick(self, now: float, *, part: int = 0, parts: int = 1) -> None:
        """Tick the calls of slice ``part`` (of ``parts``); the per-process work goes with
        slice 0. ``tick(now)`` ticks everything."""
        config = self.config
        event_period = self.events.period
        stats = self.stats
        collect_stats = stats.slice_begin(now, part=part, parts=parts)
        for live in list(self.registry.live.values()):
            if live.finalizing or live.slot % parts != part:
                continue
            try:
                live.pipeline.tick(now)
            except OSError as exc:
                logger.error("recording write failed: %s", exc)
                self._end(live, CallStatus.INCOMPLETE, f"recording failed: {exc}")
                continue
            if live.connections:
                if now - live.last_media > config.media_timeout:
                    self._end(
                        live, CallStatus.INCOMPLETE, f"no media for {config.media_timeout:g} s"
                    )
                    continue
                if now - live.started_at > config.max_call_seconds:
                    self._end(
                        live,
                        CallStatus.INCOMPLETE,
                        f"maximum call length of {config.max_call_seconds:g} s reached",
                    )
                    continue
            elif live.orphaned_since is not None and (
                now - live.orphaned_since >= config.reconnect_grace
            ):
                if live.pipeline.all_stopped:
                    self._end(live, CallStatus.COMPLETED, "every perspective stopped")
                else:
                    self._end(live, CallStatus.INCOMPLETE, "stream ended without Stop")
                continue
            if event_period is not None and now - live.last_event >= event_period:
                self.events.send_progress(live, now)
            if collect_stats and live.call_pk is not None:
                stats.add(live.call_pk, live.stats())
        if collect_stats:
            stats.slice_end()
        if part != 0:
            return
        self.live_digest.tick(now)
        for connection in list(self.registry.connections):
            connection.check_limits(now)
        self.transcripts.tick()

    def _end(self, live: LiveCall, status: CallStatus, reason: str) -> None:
        self.spawn(self.endings.finalize(live, status, reason))
