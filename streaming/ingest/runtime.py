"""The ingest runtime of one event loop: its parts, composed.

Each part owns its state; imports go one way, top to bottom (``lint-imports`` checks it)::

    ws_server ─▶ app (one socket) ─▶ runtime (this module) ─▶ ticker ─▶ endings
        ─▶ events | transcript_results | stats_batch | shedding | live_digest ─▶ registry

- ``registry``: live calls (``LiveCall``), open sockets, sockets on their way, ending calls.
- ``shedding``: the overload signal (open sockets, event loop lag) behind 503s.
- ``events``: call events to browsers; progress through one outbox and one publisher task.
- ``live_digest``: one message per period with every live call, for the live calls page.
- ``stats_batch``: live calls' statistics, one database update per interval.
- ``transcript_results``: audio to live transcription workers, their lines to browsers and,
  once final, to the database.
- ``endings``: a socket leaving its call, the call's final record, a refused call's removal.
- ``ticker``: the one periodic task that drives all of these, a slice of the calls at a time.

No part reads a socket's internals: sockets join the registry through narrow protocols
(``CallSocket``, whose ``close`` is all a call's ending uses; ``LimitChecked`` for the ticker)
and tell ``endings`` their call, feed and reason when they leave.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from datetime import datetime
from pathlib import Path

from django.conf import settings

from streaming.ingest.config import IngestConfig
from streaming.ingest.endings import CallEndings
from streaming.ingest.events import CallEvents
from streaming.ingest.live_digest import LiveDigest
from streaming.ingest.registry import CallRegistry
from streaming.ingest.shedding import LoadShedding
from streaming.ingest.stats_batch import StatsBatch
from streaming.ingest.tasks import TaskSet
from streaming.ingest.ticker import TICK_SLICES, Ticker
from streaming.ingest.transcript_results import LiveTranscripts

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def recording_path_for(*, call_id: str, session_id: str, started: datetime) -> str:
    """``RECORDINGS_DIR/YYYY/MM/DD/<call>_<session>_<random>.wav`` (names made file-safe)."""
    name = f"{_SAFE.sub('_', call_id)[:48]}_{_SAFE.sub('_', session_id)[:24] or '0'}"
    folder = Path(settings.RECORDINGS_DIR) / started.strftime("%Y/%m/%d")
    return str(folder / f"{name}_{secrets.token_hex(4)}.wav")


class IngestRuntime:
    """Per event loop: the live calls and open sockets (``registry``), how calls end
    (``endings``), call events (``events``), the statistics batch (``stats``), live transcripts
    (``transcripts``), the overload signal (``shedding``) and the ``ticker`` driving them."""

    def __init__(self, config: IngestConfig) -> None:
        self.config = config
        self.loop = asyncio.get_running_loop()
        self.tasks = TaskSet(self.loop)
        spawn = self.tasks.spawn
        self.registry = CallRegistry(slots=TICK_SLICES)
        self.shedding = LoadShedding(
            max_connections=config.max_connections, shed_lag_ms=config.shed_lag_ms
        )
        self.events = CallEvents(self.loop, events_hz=config.events_hz)
        self.live_digest = LiveDigest(registry=self.registry, spawn=spawn)
        self.events.observers.append(self.live_digest.on_event)
        self.stats = StatsBatch(interval=config.stats_interval, spawn=spawn)
        self.transcripts = LiveTranscripts(
            config.live_transcription, publish=self.events.publish, spawn=spawn
        )
        self.endings = CallEndings(
            registry=self.registry, events=self.events, transcripts=self.transcripts
        )
        self.ticker = Ticker(
            config,
            registry=self.registry,
            endings=self.endings,
            events=self.events,
            stats=self.stats,
            transcripts=self.transcripts,
            shedding=self.shedding,
            live_digest=self.live_digest,
            spawn=spawn,
        )
        self.ticker.start(self.loop)

    def spawn(self, coroutine) -> asyncio.Task:
        """Run ``coroutine`` in the background, held until it finishes."""
        return self.tasks.spawn(coroutine)

    def overloaded(self) -> str | None:
        """Why a new socket should be told to retry later (503), or None."""
        return self.shedding.overloaded(len(self.registry.connections))

    def tick(self, now: float, *, part: int = 0, parts: int = 1) -> None:
        self.ticker.tick(now, part=part, parts=parts)

    async def shutdown(self) -> None:
        await self.ticker.shutdown()


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
