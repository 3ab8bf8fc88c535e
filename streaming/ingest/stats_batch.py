"""Live calls' statistics, written to their rows in one database update per interval.

The ticker goes through the calls a slice at a time; the slices of one tick period fill one
batch (a call appears once, with its latest statistics), written when the last slice is done.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ringadmin.calls.services import call_stats_update_many
from streaming.ingest.db import in_db_thread
from streaming.ingest.tasks import Spawn

logger = logging.getLogger("streaming.ingest")


class StatsBatch:
    """The statistics batch of one event loop."""

    def __init__(self, *, interval: float, spawn: Spawn) -> None:
        self.interval = interval
        self._spawn = spawn
        self._last = time.time()
        self._batch: dict[int, dict[str, Any]] = {}
        self._parts_left = 0

    def slice_begin(self, now: float, *, part: int, parts: int) -> bool:
        """Does this slice collect statistics? Slice 0 starts a batch once the interval has
        passed; that batch takes the next ``parts`` slices."""
        if part == 0 and now - self._last >= self.interval:
            self._last = now
            self._batch, self._parts_left = {}, parts
        return self._parts_left > 0

    def add(self, call_pk: int, stats: dict[str, Any]) -> None:
        self._batch[call_pk] = stats

    def slice_end(self) -> None:
        """A collecting slice is done: after the batch's last one, write it."""
        self._parts_left -= 1
        if self._parts_left == 0 and self._batch:
            self._spawn(self._write(self._batch))
            self._batch = {}

    async def _write(self, batch: dict[int, dict]) -> None:
        try:
            await in_db_thread(call_stats_update_many)(stats_by_call=batch)
        except Exception as exc:
            logger.warning("live stream statistics not saved this time: %s", exc)
