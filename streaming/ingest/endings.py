"""How a live call ends: a socket leaves it, it is finalized, or its row refuses it.

The sockets tell this part what they know when they leave (their call, their feed, why they
ended); the part closes a call's sockets only through :class:`CallSocket.close`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

from ringadmin.calls.models import CallStatus
from ringadmin.calls.services import call_finalize
from streaming.audio.pipeline import SocketFeed
from streaming.ingest.db import in_db_thread
from streaming.ingest.events import CallEvents
from streaming.ingest.registry import CallRegistry, CallSocket, LiveCall
from streaming.ingest.stats import stats_continued
from streaming.ingest.transcript_results import LiveTranscripts

logger = logging.getLogger("streaming.ingest")

CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008


def parse_end_time(value: Any, *, started: float, now: float) -> datetime | None:
    """Stop's end time, when it can be this call's: between its start and now (a day of clock
    difference allowed either side). Anything else (any type, year 1 or 9999) is ignored."""
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        stamp = parsed.timestamp()
    except (ValueError, OverflowError):
        return None
    if not started - 86400 <= stamp <= now + 86400:
        return None
    return parsed.astimezone(UTC)


def stop_duration(value: Any, *, limit: float) -> float | None:
    """Stop's duration in seconds, when it is a number that can be one (0 to ``limit``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 0 <= value <= limit else None


class CallEndings:
    """Ends the live calls of one event loop: final record first, then their sockets close."""

    def __init__(
        self, *, registry: CallRegistry, events: CallEvents, transcripts: LiveTranscripts
    ) -> None:
        self.registry = registry
        self.events = events
        self.transcripts = transcripts

    async def detach(
        self,
        live: LiveCall,
        socket: CallSocket,
        *,
        feed: SocketFeed | None,
        terminal_reason: str,
        now: float,
    ) -> None:
        """A socket of the call ended (for ``terminal_reason``, or "" when it may come back):
        finalize the call now if nothing more can come, else wait for a reconnect during the
        grace period."""
        live.connections.discard(socket)
        if feed is not None:
            live.pipeline.close_socket(feed)
        if live.connections or live.finalizing:
            return
        if live.pipeline.all_stopped and not self.registry.arriving_for(live):
            await self.finalize(live, CallStatus.COMPLETED, "every perspective stopped")
        elif terminal_reason:
            await self.finalize(live, CallStatus.INCOMPLETE, terminal_reason)
        else:
            live.orphaned_since = now  # a reconnect within the grace period continues it

    async def finalize(self, live: LiveCall, status: CallStatus, reason: str) -> None:
        """Close the recording, write the final call record, then close its sockets."""
        if live.finalizing:
            return
        live.finalizing = True
        live.final_status = status
        ending = self.registry.ending
        ending[live.key] = live
        try:
            await self._finalize(live, status, reason)
        finally:
            live.ended.set()
            if ending.get(live.key) is live:
                del ending[live.key]

    async def _finalize(self, live: LiveCall, status: CallStatus, reason: str) -> None:
        pipeline_stats = live.pipeline.close(sync=False)
        self.transcripts.detach(live.key)  # its last audio; results still arrive
        self.registry.drop_live(live)
        stop = live.stop_metadata
        now = time.time()
        ended_at = parse_end_time(
            stop.get("end_time") or stop.get("endTime"), started=live.started_at, now=now
        ) or datetime.now(UTC)
        try:
            # fsync in a thread: on a busy disk it blocks for milliseconds, every call with it.
            await asyncio.to_thread(live.pipeline.writer.sync_close)
        except OSError as exc:
            logger.error("the recording could not be flushed to disk: %s", exc)
        try:
            await asyncio.wait_for(live.db_ready.wait(), timeout=30)
            if live.record_writes:
                await asyncio.wait(live.record_writes, timeout=30)
        except TimeoutError:
            logger.error("the call record was not written in time")
        if live.refused:  # its row refused it meanwhile: nothing of it is kept
            await self._remove_refused(live)
            return
        stats = stats_continued(live.earlier_stats, pipeline_stats)  # known once the row is
        duration_seconds = stop_duration(stop.get("duration"), limit=now - live.started_at + 86400)
        if duration_seconds is None:
            duration_seconds = stats["recording"]["seconds"]
        logger.info(
            "call finalized: %s (%s), %.1f s recorded",
            status,
            reason,
            stats["recording"]["seconds"],
        )
        try:
            await in_db_thread(call_finalize)(
                call_id=live.call_pk,
                status=status,
                ended_at=ended_at,
                duration_seconds=duration_seconds,
                stream_stats=stats,
                end_reason=reason,
                stop_metadata=stop or None,
            )
        except Exception:
            logger.exception("could not write the final call record; recovery will mark it")
        # Closed after the record is written: whoever sees the close sees the final record.
        close_code = CLOSE_NORMAL if status == CallStatus.COMPLETED else CLOSE_POLICY
        for socket in list(live.connections):
            await socket.close(close_code, reason)
        await self.events.publish(
            live,
            {
                "type": "call.stopped",
                "status": str(status),
                "reason": reason,
                "seconds": stats["recording"]["seconds"],
            },
        )

    async def discard(self, live: LiveCall, reason: str) -> None:
        """The call's row refused this recording (another profile's call, or one that ended
        for good): close its sockets and remove the new file, which nothing refers to."""
        live.refused, live.refusal = True, reason
        live.db_ready.set()  # nothing more will be written
        if live.finalizing:  # its finalize sees the refusal and does the rest
            return
        live.finalizing = True
        self.transcripts.detach(live.key)
        self.registry.drop_live(live)
        live.pipeline.close(sync=False)
        await self._remove_refused(live)
        live.ended.set()

    async def _remove_refused(self, live: LiveCall) -> None:
        path = live.pipeline.writer.path
        try:
            await asyncio.to_thread(live.pipeline.writer.sync_close)
            await asyncio.to_thread(path.unlink, missing_ok=True)
        except OSError as exc:
            logger.warning("the refused stream's file %s was not removed: %s", path, exc)
        for socket in list(live.connections):
            # A policy close records the refusal as the socket's reason for ending.
            await socket.close(CLOSE_POLICY, live.refusal)
