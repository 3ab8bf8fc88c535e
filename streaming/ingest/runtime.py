"""Live calls of this process and the one ticker that keeps them moving.

One ticker task serves every call: it releases audio that waited a whole reorder window,
commits recordings to disk, enforces time limits, publishes call events at a bounded rate and
writes live calls' statistics to the database in one batch. Nothing here runs per frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings

from ringadmin.calls.groups import call_group_name
from ringadmin.calls.models import CallStatus
from ringadmin.calls.services import call_finalize, call_stats_update_many
from streaming.audio.pipeline import CallPipeline
from streaming.ingest.config import IngestConfig
from streaming.ingest.db import in_db_thread
from streaming.ingest.stats import stats_continued
from streaming.transcription.live_link import LiveTranscriptionLink
from streaming.transcription.services import live_transcript_append_many

if TYPE_CHECKING:
    from streaming.ingest.app import IngestConnection

logger = logging.getLogger("streaming.ingest")

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
TICK_SLICES = 10  # each tick period is split in this many slices of calls
OUTBOX_LIMIT = 10_000  # progress events waiting for the channel layer


def recording_path_for(*, call_id: str, session_id: str, started: datetime) -> str:
    """``RECORDINGS_DIR/YYYY/MM/DD/<call>_<session>_<random>.wav`` (names made file-safe)."""
    name = f"{_SAFE.sub('_', call_id)[:48]}_{_SAFE.sub('_', session_id)[:24] or '0'}"
    folder = Path(settings.RECORDINGS_DIR) / started.strftime("%Y/%m/%d")
    return str(folder / f"{name}_{secrets.token_hex(4)}.wav")


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


@dataclass(eq=False)
class LiveCall:
    key: tuple[str, str]
    call_pk: int | None  # None until the call row is written (in the background)
    pipeline: CallPipeline
    started_at: float
    last_media: float
    connections: set[IngestConnection] = field(default_factory=set)
    orphaned_since: float | None = None
    stop_metadata: dict[str, Any] = field(default_factory=dict)
    finalizing: bool = False
    last_event: float = 0.0
    db_ready: asyncio.Event = field(default_factory=asyncio.Event)
    transcript: LiveTranscriptState | None = None
    # Background writes of the call row at Start (first socket, reconnects): the final record
    # waits for them, or a reconnect's "live again" could land after it.
    record_writes: set[asyncio.Task] = field(default_factory=set)
    slot: int = 0  # which slice of the tick period ticks this call
    profile_id: int | None = None  # the profile that authenticated its first socket
    final_status: CallStatus | None = None  # set when it starts ending
    ended: asyncio.Event = field(default_factory=asyncio.Event)  # its final record is written
    refused: bool = False  # its row refused it (another profile's call, or ended for good)
    refusal: str = ""
    earlier_stats: dict[str, Any] | None = None  # the call's statistics before this recording

    def stats(self) -> dict[str, Any]:
        """The whole call's statistics, from its first socket (see stats_continued)."""
        return stats_continued(self.earlier_stats, self.pipeline.stats())

    @property
    def group(self) -> str:
        assert self.call_pk is not None  # read once the call row is written
        return call_group_name(self.call_pk)


@dataclass(eq=False)
class LiveTranscriptState:
    """A call's live transcript lines on their way to browsers and the database."""

    live: LiveCall
    seq_by_utterance: dict[tuple[str, int], int] = field(default_factory=dict)
    unsaved_finals: list[dict[str, Any]] = field(default_factory=list)

    def seq_for(self, speaker: str, utterance: int) -> int:
        key = (speaker, utterance)
        seq = self.seq_by_utterance.get(key)
        if seq is None:
            seq = self.seq_by_utterance[key] = len(self.seq_by_utterance) + 1
        return seq


class IngestRuntime:
    """Per event loop: the live calls, the open sockets, the ticker, the overload signal."""

    def __init__(self, config: IngestConfig) -> None:
        self.config = config
        self.loop = asyncio.get_running_loop()
        self.live: dict[tuple[str, str], LiveCall] = {}
        self.connections: set[IngestConnection] = set()
        # sockets whose handshake named a call but whose Start is not processed yet
        self.arriving: dict[tuple[str, str], set[IngestConnection]] = {}
        # calls that are ending: a new Start of one waits for its final record (or is refused)
        self.ending: dict[tuple[str, str], LiveCall] = {}
        self.calls_by_profile: dict[int, int] = {}
        self.loop_lag_ms = 0.0
        self.shed_count = 0
        self.events_dropped = 0
        self.refused: dict[str, int] = {}  # streams refused after the handshake, by kind
        self._tasks: set[asyncio.Task] = set()
        self._last_stats = time.time()
        self._stats_batch: dict[int, dict[str, Any]] = {}
        self._stats_parts_left = 0
        self._next_slot = 0
        self._outbox: list[tuple[LiveCall, dict[str, Any]]] = []
        self._publisher: asyncio.Task | None = None
        self.transcription: LiveTranscriptionLink | None = (
            LiveTranscriptionLink(config.live_transcription, on_result=self._on_transcript)
            if config.live_transcription
            else None
        )
        self._transcripts: dict[tuple[str, str], LiveTranscriptState] = {}
        self._ticker = self.loop.create_task(self._tick_forever(), name="ingest-ticker")

    # --- admission --------------------------------------------------------------------------
    def overloaded(self) -> str | None:
        """Why a new call should be told to retry later (503), or None."""
        if len(self.connections) >= self.config.max_connections:
            return (
                f"{len(self.connections)} ingest sockets open (limit {self.config.max_connections})"
            )
        if self.config.shed_lag_ms and self.loop_lag_ms > self.config.shed_lag_ms:
            return f"event loop {self.loop_lag_ms:.0f} ms behind"
        return None

    def arriving_for(self, live: LiveCall) -> bool:
        """Is a socket of the call's own profile on its way (accepted, naming the call, no
        Start yet)? Another profile's socket naming the call never holds it open."""
        return any(
            c.decision is not None and c.decision.profile_id == live.profile_id
            for c in self.arriving.get(live.key, ())
        )

    def note_arriving(
        self, key: tuple[str, str] | None, connection: IngestConnection, present: bool
    ) -> None:
        if key is None:
            return
        if present:
            self.arriving.setdefault(key, set()).add(connection)
            return
        waiting = self.arriving.get(key)
        if waiting is not None:
            waiting.discard(connection)
            if not waiting:
                del self.arriving[key]

    def spawn(self, coroutine) -> asyncio.Task:
        task = self.loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- live transcripts --------------------------------------------------------------------
    def transcription_attach(self, live: LiveCall) -> None:
        """Send this call's audio to a live transcription worker (when one is configured)."""
        if self.transcription is None:
            return
        if self.transcription.attach(live.key, live.pipeline) is not None:
            live.transcript = self._transcripts[live.key] = LiveTranscriptState(live=live)

    def _on_transcript(self, key: tuple[str, str], speaker: str, data: dict[str, Any]) -> None:
        state = self._transcripts.get(key)
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
            state.unsaved_finals.append({**line, "words": data.get("words") or []})
        self.spawn(self.publish(state.live, line))

    def _save_transcripts(self) -> None:
        batch: dict[int, list[dict[str, Any]]] = {}
        for key, state in list(self._transcripts.items()):
            if state.unsaved_finals and state.live.call_pk is not None:
                batch[state.live.call_pk] = state.unsaved_finals
                state.unsaved_finals = []
            if (
                self.transcription is not None
                and key not in self.transcription.feeds
                and not state.unsaved_finals
            ):
                del self._transcripts[key]
        if batch:
            self.spawn(self._write_transcripts(batch))

    async def _write_transcripts(self, batch: dict[int, list[dict[str, Any]]]) -> None:
        try:
            await in_db_thread(live_transcript_append_many)(lines_by_call=batch)
        except Exception:
            logger.exception("live transcript lines not saved; the post-call transcript will be")

    # --- calls ------------------------------------------------------------------------------
    async def detach(self, connection: IngestConnection, now: float) -> None:
        """A socket ended: finalize its call now if nothing more can come, else wait for a
        reconnect during the grace period."""
        live = connection.live
        if live is None:
            return
        live.connections.discard(connection)
        if connection.feed is not None:
            live.pipeline.close_socket(connection.feed)
        if live.connections or live.finalizing:
            return
        if live.pipeline.all_stopped and not self.arriving_for(live):
            await self.finalize(live, CallStatus.COMPLETED, "every perspective stopped")
        elif connection.terminal_reason:
            await self.finalize(live, CallStatus.INCOMPLETE, connection.terminal_reason)
        else:
            live.orphaned_since = now  # a reconnect within the grace period continues it

    async def finalize(self, live: LiveCall, status: CallStatus, reason: str) -> None:
        """Close the recording, write the final call record, then close its sockets."""
        if live.finalizing:
            return
        live.finalizing = True
        live.final_status = status
        self.ending[live.key] = live
        try:
            await self._finalize(live, status, reason)
        finally:
            live.ended.set()
            if self.ending.get(live.key) is live:
                del self.ending[live.key]

    async def _finalize(self, live: LiveCall, status: CallStatus, reason: str) -> None:
        pipeline_stats = live.pipeline.close(sync=False)
        if self.transcription is not None:
            self.transcription.detach(live.key)  # its last audio; results still arrive
        self.drop_live(live)
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
        close_code = 1000 if status == CallStatus.COMPLETED else 1008
        for connection in list(live.connections):
            await connection.close(close_code, reason)
        await self.publish(
            live,
            {
                "type": "call.stopped",
                "status": str(status),
                "reason": reason,
                "seconds": stats["recording"]["seconds"],
            },
        )

    @staticmethod
    def _listened(live: LiveCall, layer=None) -> bool:
        """Could anyone receive this call's events? Always, through a shared layer (Redis);
        with the in-process layer, only when a browser socket in this process joined."""
        layer = layer or get_channel_layer()
        if layer is None or live.call_pk is None:
            return False
        return not isinstance(layer, InMemoryChannelLayer) or live.group in layer.groups

    async def publish(self, live: LiveCall, payload: dict[str, Any]) -> None:
        layer = get_channel_layer()
        if not self._listened(live, layer):
            return
        payload = {"call_id": live.call_pk, "ringcx_call_id": live.key[0], **payload}
        try:
            async with asyncio.timeout(2.0):
                await layer.group_send(live.group, {"type": "call.event", "payload": payload})
        except Exception as exc:  # events are best effort; the recording is not
            logger.warning("call event not delivered: %s", exc)

    def publish_soon(self, live: LiveCall, payload: dict[str, Any]) -> None:
        """Queue a progress event. One task sends the queue in order, so hundreds of calls'
        events cost no task each; if the channel layer falls far behind, new ones are
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

    def add_live(self, live: LiveCall) -> None:
        """A new call: give it its slice of the tick period (round robin) and keep it."""
        live.slot = self._next_slot
        self._next_slot = (self._next_slot + 1) % TICK_SLICES
        self.live[live.key] = live
        if live.profile_id is not None:
            self.calls_by_profile[live.profile_id] = (
                self.calls_by_profile.get(live.profile_id, 0) + 1
            )

    def drop_live(self, live: LiveCall) -> None:
        """The call is no longer live here (ending, or refused by its row)."""
        if self.live.get(live.key) is not live:
            return
        del self.live[live.key]
        if live.profile_id is not None:
            left = self.calls_by_profile.get(live.profile_id, 1) - 1
            if left > 0:
                self.calls_by_profile[live.profile_id] = left
            else:
                self.calls_by_profile.pop(live.profile_id, None)

    def count_refusal(self, kind: str) -> None:
        self.refused[kind] = self.refused.get(kind, 0) + 1

    async def discard(self, live: LiveCall, reason: str) -> None:
        """The call's row refused this recording (another profile's call, or one that ended
        for good): close its sockets and remove the new file, which nothing refers to."""
        live.refused, live.refusal = True, reason
        live.db_ready.set()  # nothing more will be written
        if live.finalizing:  # its finalize sees the refusal and does the rest
            return
        live.finalizing = True
        if self.transcription is not None:
            self.transcription.detach(live.key)
        self.drop_live(live)
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
        for connection in list(live.connections):
            connection.terminal_reason = live.refusal
            await connection.close(1008, live.refusal)

    # --- ticker -----------------------------------------------------------------------------
    async def _tick_forever(self) -> None:
        """Every call is ticked every ``tick_seconds``, a tenth of them at a time: ticking
        hundreds of calls at once would hold the event loop long enough to delay frames."""
        interval = self.config.tick_seconds / TICK_SLICES
        expected = self.loop.time() + interval
        part = 0
        while True:
            await asyncio.sleep(max(0.0, expected - self.loop.time()))
            current = self.loop.time()
            lag_ms = max(0.0, current - expected) * 1000
            self.loop_lag_ms = (
                lag_ms if lag_ms > self.loop_lag_ms else (0.7 * self.loop_lag_ms + 0.3 * lag_ms)
            )
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
        event_period = 1.0 / config.events_hz if config.events_hz > 0 else None
        if part == 0 and now - self._last_stats >= config.stats_interval:
            self._last_stats = now
            self._stats_batch, self._stats_parts_left = {}, parts
        collect_stats = self._stats_parts_left > 0
        for live in list(self.live.values()):
            if live.finalizing or live.slot % parts != part:
                continue
            try:
                live.pipeline.tick(now)
            except OSError as exc:
                logger.error("recording write failed: %s", exc)
                self.spawn(self.finalize(live, CallStatus.INCOMPLETE, f"recording failed: {exc}"))
                continue
            if live.connections:
                if now - live.last_media > config.media_timeout:
                    self.spawn(
                        self.finalize(
                            live, CallStatus.INCOMPLETE, f"no media for {config.media_timeout:g} s"
                        )
                    )
                    continue
                if now - live.started_at > config.max_call_seconds:
                    self.spawn(
                        self.finalize(
                            live,
                            CallStatus.INCOMPLETE,
                            f"maximum call length of {config.max_call_seconds:g} s reached",
                        )
                    )
                    continue
            elif live.orphaned_since is not None and (
                now - live.orphaned_since >= config.reconnect_grace
            ):
                status = (
                    CallStatus.COMPLETED if live.pipeline.all_stopped else (CallStatus.INCOMPLETE)
                )
                self.spawn(
                    self.finalize(
                        live,
                        status,
                        "stream ended without Stop"
                        if status == CallStatus.INCOMPLETE
                        else "every perspective stopped",
                    )
                )
                continue
            if event_period is not None and now - live.last_event >= event_period:
                live.last_event = now
                if self._listened(live):
                    self.publish_soon(live, self._progress(live))
            if collect_stats and live.call_pk is not None:
                self._stats_batch[live.call_pk] = live.stats()
        if collect_stats:
            self._stats_parts_left -= 1
            if self._stats_parts_left == 0 and self._stats_batch:
                self.spawn(self._write_stats(self._stats_batch))
                self._stats_batch = {}
        if part != 0:
            return
        for connection in list(self.connections):
            connection.check_limits(now)
        if self.transcription is not None:
            self.transcription.pump()
            self._save_transcripts()

    @staticmethod
    def _progress(live: LiveCall) -> dict[str, Any]:
        writer = live.pipeline.writer
        tracks = live.pipeline.tracks
        return {
            "type": "call.progress",
            "seconds": round(writer.committed / 8000, 2),
            "levels": {"agent": writer.levels.left_dbfs, "caller": writer.levels.right_dbfs},
            "frames": {name: track.frames_written for name, track in tracks.items()},
        }

    async def _write_stats(self, batch: dict[int, dict]) -> None:
        try:
            await in_db_thread(call_stats_update_many)(stats_by_call=batch)
        except Exception as exc:
            logger.warning("live stream statistics not saved this time: %s", exc)

    async def shutdown(self) -> None:
        self._ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._ticker


_runtimes: dict[int, IngestRuntime] = {}


def get_runtime() -> IngestRuntime:
    """The runtime of the running event loop (tests run several loops, servers one)."""
    loop = asyncio.get_running_loop()
    runtime = _runtimes.get(id(loop))
    if runtime is None or runtime.loop is not loop or runtime.loop.is_closed():
        for key in [k for k, r in _runtimes.items() if r.loop.is_closed()]:
            del _runtimes[key]
        runtime = IngestRuntime(IngestConfig.from_settings())
        _runtimes[id(loop)] = runtime
    return runtime
