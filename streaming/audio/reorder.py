"""A reorder buffer over one sequence-number space, with a bounded window.

Frames are released in sequence order as soon as they are contiguous. A missing number is
released as a *gap* once a frame ``window`` numbers past it has arrived, or once the oldest
waiting frame has waited ``window_seconds``; so at most one window of audio is ever held.
Duplicates are dropped; frames older than what was already released are *late* and dropped.

Numbers come from the sender, so nothing here costs work or memory in proportion to them: a
run of missing numbers is one gap release that says how many, and a number more than
``max_jump`` away from the last one (either way, the very first frames and a reconnect's
included) is a jump: what is held is written and the numbering starts again there, nothing
filled in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

_RECENT = 2048  # how far back (frames, ~40 s) a duplicate of a written frame is recognised
MAX_JUMP = 3000  # the longest run of missing numbers filled (60 s of a leg); further: a jump


@dataclass(slots=True)
class Release(Generic[T]):
    sequence: int
    item: T | None  # None: a gap to fill
    count: int = 1  # a gap stands for the missing numbers sequence … sequence + count - 1


@dataclass(slots=True)
class Counters:
    received: int = 0
    duplicates: int = 0
    reordered: int = 0
    late: int = 0
    gaps: int = 0
    jumps: int = 0


class ReorderBuffer(Generic[T]):
    """Orders items by sequence number. ``push``/``expire``/``drain`` return what to write."""

    def __init__(
        self,
        *,
        window: int,
        window_seconds: float,
        next_sequence: int | None = None,
        max_jump: int = MAX_JUMP,
    ) -> None:
        self.window = window
        self.window_seconds = window_seconds
        self.max_jump = max_jump
        self.next_sequence = next_sequence
        self.pending: dict[int, tuple[T, float]] = {}
        self.max_seen: int | None = None
        self.first_sequence: int | None = None
        self.last_released: int | None = None
        self.counters = Counters()
        self._written = [-1] * _RECENT  # sequence numbers released with a real item
        self._holding = next_sequence is None
        self._restart_run: list[tuple[int, T, float]] = []
        self._hold_started: float | None = None

    # --- input ------------------------------------------------------------------------------
    def push(
        self, sequence: int, item: T, now: float, counters: Counters | None = None
    ) -> list[Release[T]]:
        """Add one frame; ``counters`` (default: the buffer's) receives its classification."""
        counters = counters if counters is not None else self.counters
        if self.first_sequence is None:
            self.first_sequence = sequence
            self._start(sequence, now)
        next_sequence = self.next_sequence
        if next_sequence is not None and sequence < next_sequence:
            if self._written[sequence % _RECENT] == sequence:
                counters.duplicates += 1
                return []
            if sequence < next_sequence - 2 * self.window:
                run = self._restart_candidate(sequence, item, now)
                if run:
                    # The sender restarted its numbering (a reconnect): follow it.
                    counters.jumps += 1
                    counters.late -= len(run) - 1
                    released = self.drain()
                    self.next_sequence = run[0][0]
                    self.max_seen = None
                    for candidate in run:
                        released += self.push(*candidate, counters)
                    return released
            counters.late += 1
            return []
        self._restart_run = []
        if sequence in self.pending:
            counters.duplicates += 1
            return []
        counters.received += 1
        max_seen = self.max_seen
        released = []
        # The last number known: the highest seen, or the one before a continued numbering.
        if max_seen is not None:
            last = max_seen
        elif next_sequence is not None:
            last = next_sequence - 1
        else:
            last = None
        if last is not None and not -self.max_jump <= sequence - last <= self.max_jump:
            # The numbering jumped (a restart or corruption): write what we hold, start again.
            # Far below is possible only while holding for the base (after an absurd first
            # number); far above also on a reconnect that continues a numbering.
            counters.jumps += 1
            released = self.drain()
            self.next_sequence = sequence
            self.max_seen = max_seen = None
        elif max_seen is not None and sequence < max_seen:
            counters.reordered += 1
        if self.max_seen is None or sequence > self.max_seen:
            self.max_seen = sequence
        self.pending[sequence] = (item, now)
        if self._holding:
            assert self._hold_started is not None  # set by _start whenever it holds
            if self.max_seen - min(self.pending) < self.window and (
                now - self._hold_started < self.window_seconds
            ):
                return released
            self._end_hold()
        return released + self._release()

    def take_next(self, sequence: int, counters: Counters) -> bool:
        """The usual case, without the bookkeeping: ``sequence`` is exactly the next number
        and nothing waits, so it is released at once. True when taken (the caller writes it);
        False: use :meth:`push`, which handles every other case."""
        max_seen = self.max_seen
        if (
            sequence != self.next_sequence
            or self.pending
            or self._holding
            or self.first_sequence is None
            or (
                max_seen is not None
                and (sequence <= max_seen or sequence > max_seen + self.max_jump)
            )
        ):
            return False
        if self._restart_run:
            self._restart_run = []
        counters.received += 1
        self.max_seen = sequence
        self._written[sequence % _RECENT] = sequence
        self.next_sequence = sequence + 1
        self.last_released = sequence
        return True

    def expire(self, now: float) -> list[Release[T]]:
        """Time-based release: nothing waits longer than ``window_seconds``."""
        if not self.pending:
            return []
        if self._holding:
            assert self._hold_started is not None  # set by _start whenever it holds
            if now - self._hold_started < self.window_seconds:
                return []
            self._end_hold()
            return self._release()
        oldest_sequence = None
        for sequence, (_, arrived) in self.pending.items():
            if now - arrived >= self.window_seconds and (
                oldest_sequence is None or sequence > oldest_sequence
            ):
                oldest_sequence = sequence
        if oldest_sequence is None:
            return []
        return self._release(through=oldest_sequence)

    def drain(self) -> list[Release[T]]:
        """Release everything held, filling the gaps between (end of stream)."""
        if not self.pending:
            return []
        if self._holding:
            self._end_hold()
        return self._release(through=max(self.pending))

    @property
    def held(self) -> int:
        return len(self.pending)

    # --- internals --------------------------------------------------------------------------
    def _restart_candidate(self, sequence: int, item: T, now: float) -> list[tuple[int, T, float]]:
        """Three contiguous numbers far behind mean a restarted numbering, not stragglers."""
        run = self._restart_run
        if run and sequence != run[-1][0] + 1:
            run.clear()
        run.append((sequence, item, now))
        if len(run) < 3:
            return []
        self._restart_run = []
        return run

    def _start(self, sequence: int, now: float) -> None:
        if self.next_sequence is not None:
            return
        if sequence <= self.window:
            # Streams number from 1 (or 0): reserve the numbers before the first arrival so
            # frames that overtook them are still placed, without holding anything back.
            self.next_sequence = min(sequence, 1)
            self._holding = False
        else:
            self._hold_started = now  # unknown base: wait one window for lower numbers

    def _end_hold(self) -> None:
        self._holding = False
        self.next_sequence = min(self.pending)

    def _release(self, through: int | None = None) -> list[Release[T]]:
        out: list[Release[T]] = []
        pending = self.pending
        next_sequence = self.next_sequence
        assert next_sequence is not None  # known once no longer holding for the base
        # Missing numbers up to here are gaps: a window behind the highest seen, or ``through``.
        limit = self.max_seen - self.window if self.max_seen is not None else None
        if through is not None and (limit is None or through > limit):
            limit = through
        written = self._written
        counters = self.counters
        while pending:
            entry = pending.pop(next_sequence, None)
            if entry is not None:
                out.append(Release(next_sequence, entry[0]))
                written[next_sequence % _RECENT] = next_sequence
                next_sequence += 1
            elif limit is not None and next_sequence <= limit:
                # Every waiting number is above: the run up to the next one (or the limit) is
                # one gap, however long (pending holds at most a window, so min() is cheap).
                end = min(min(pending) - 1, limit)
                out.append(Release(next_sequence, None, end - next_sequence + 1))
                counters.gaps += end - next_sequence + 1
                next_sequence = end + 1
            else:
                break
        self.next_sequence = next_sequence
        if out:
            self.last_released = next_sequence - 1
        return out
