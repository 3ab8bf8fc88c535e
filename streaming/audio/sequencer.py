"""One socket's Media frames → per-perspective, in-order frames and gaps.

Whether ``sequenceId`` counts per perspective (each leg 1, 2, 3…) or per socket (one counter
shared by every Media message) is undocumented, so it is detected from the first frames of the
second perspective: a number used by both legs means per perspective; disjoint numbers that
together run (almost) contiguously mean per socket. Until a second leg appears both readings
agree, so nothing is delayed while we look.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streaming.audio.protocol import CONFERENCE, PARTICIPANT, PERSPECTIVES
from streaming.audio.reorder import Counters, Release, ReorderBuffer

UNDETERMINED = "undetermined"
PER_PERSPECTIVE = "per_perspective"
PER_SOCKET = "per_socket"

DETECT_FRAMES = 12  # frames of the second leg needed to call the numbering per-socket
# ... unless the first leg has sent nothing numbered past the second's first frame yet (heavy
# reordering): then its absence between the second leg's numbers proves nothing, so wait for up
# to this many frames of the second leg (or DETECT_SECONDS) before deciding.
DETECT_MAX_FRAMES = 48
DETECT_SECONDS = 0.25
_OWNERS = 8192
_SEEN = 256  # numbers remembered per leg for the detection (its first, then while detecting)


@dataclass(slots=True)
class Out:
    """A frame to place (``item`` set) or a gap to fill (``item`` None) on ``perspective``.

    A gap stands for ``count`` lost frames of the leg, numbered ``sequence``, ``sequence +
    step``, … (``step`` 2 where the legs share one counter and alternate)."""

    perspective: str
    sequence: int
    item: Any | None
    count: int = 1
    step: int = 1

    @property
    def last(self) -> int:
        return self.sequence + (self.count - 1) * self.step


def _other(perspective: str) -> str:
    return CONFERENCE if perspective == PARTICIPANT else PARTICIPANT


class SocketSequencer:
    def __init__(
        self,
        *,
        window_frames: int,
        window_seconds: float,
        continue_from: dict[str, int] | None = None,
        continue_socket_from: int | None = None,
    ) -> None:
        self.window_frames = window_frames
        self.window_seconds = window_seconds
        self.continue_from = continue_from or {}
        self.mode = UNDETERMINED
        self.counters: dict[str, Counters] = {p: Counters() for p in PERSPECTIVES}
        self.first_sequence: dict[str, int] = {}
        self.last_sequence: dict[str, int] = {}
        self._buffers: dict[str, ReorderBuffer[Any]] = {}
        self._global: ReorderBuffer[Any] | None = None
        # who sent each recent number of a shared counter (made when the counter is)
        self._owners: list[tuple[int, str] | None] = []
        self._final_socket_sequence: int | None = None
        self._released_real: dict[str, int] = dict.fromkeys(PERSPECTIVES, 0)
        self._stopped: set[str] = set()
        # detection state
        self._detecting: str | None = None
        self._detect_started = 0.0
        self._held: list[tuple[int, Any, float]] = []
        self._seen: dict[str, set[int]] = {p: set() for p in PERSPECTIVES}
        if continue_socket_from is not None:
            # The socket this one replaces counted per socket: keep following that counter.
            self.mode = PER_SOCKET
            self._owners = [None] * _OWNERS
            self._global = ReorderBuffer(
                window=window_frames * 2,
                window_seconds=window_seconds,
                next_sequence=continue_socket_from + 1,
            )

    # --- input ------------------------------------------------------------------------------
    def push(self, perspective: str, sequence: int, item: Any, now: float) -> list[Out]:
        if perspective not in self.first_sequence:
            self.first_sequence[perspective] = sequence
        if sequence > self.last_sequence.get(perspective, -1):
            self.last_sequence[perspective] = sequence
        mode = self.mode
        if mode == PER_PERSPECTIVE:
            buffer = self._buffers.get(perspective)
            if buffer is not None and buffer.take_next(sequence, self.counters[perspective]):
                return [Out(perspective, sequence, item)]  # in order: the usual frame
            return self._push_own(perspective, sequence, item, now)
        if mode == PER_SOCKET:
            self._owners[sequence % _OWNERS] = (sequence, perspective)
            counters = self.counters[perspective]
            global_buffer = self._global
            assert global_buffer is not None  # made with the per-socket mode
            if global_buffer.take_next(sequence, counters):
                self._released_real[perspective] += 1
                return [Out(perspective, sequence, item)]
            releases = global_buffer.push(sequence, item, now, counters)
            return self._from_global(releases)
        return self._push_undetermined(perspective, sequence, item, now)

    def expire(self, now: float) -> list[Out]:
        out: list[Out] = []
        if self._detecting is not None and now - self._detect_started >= DETECT_SECONDS:
            out += self._decide(now)
        if self._global is not None:
            out += self._from_global(self._global.expire(now))
        for perspective, buffer in self._buffers.items():
            out += self._own_out(perspective, buffer.expire(now))
        return out

    def drain(self) -> list[Out]:
        out: list[Out] = []
        if self._detecting is not None:
            out += self._decide(None)
        if self._global is not None:
            out += self._from_global(self._global.drain())
        for perspective, buffer in self._buffers.items():
            out += self._own_out(perspective, buffer.drain())
        return out

    def stopped(self, perspective: str) -> None:
        self._stopped.add(perspective)

    def close(self) -> list[Out]:
        """The socket is gone: release what it held, then keep only what its statistics and a
        reconnect read (a call may see many sockets; each closed one costs little)."""
        out = self.drain()
        self._final_socket_sequence = self.last_socket_sequence
        self._buffers, self._global, self._owners, self._held = {}, None, [], []
        self._seen = {p: set() for p in PERSPECTIVES}
        self._detecting = None
        return out

    @property
    def last_socket_sequence(self) -> int | None:
        """The last number released on the socket's own counter (per-socket numbering)."""
        if self._global is None or self._global.next_sequence is None:
            return self._final_socket_sequence
        return self._global.next_sequence - 1

    @property
    def held(self) -> int:
        total = len(self._held) + sum(b.held for b in self._buffers.values())
        return total + (self._global.held if self._global is not None else 0)

    # --- per perspective --------------------------------------------------------------------
    def _buffer(self, perspective: str) -> ReorderBuffer[Any]:
        buffer = self._buffers.get(perspective)
        if buffer is None:
            last = self.continue_from.get(perspective)
            buffer = ReorderBuffer(
                window=self.window_frames,
                window_seconds=self.window_seconds,
                next_sequence=None if last is None else last + 1,
            )
            self._buffers[perspective] = buffer
        return buffer

    def _push_own(self, perspective: str, sequence: int, item: Any, now: float) -> list[Out]:
        buffer = self._buffer(perspective)
        return self._own_out(
            perspective, buffer.push(sequence, item, now, self.counters[perspective])
        )

    def _own_out(self, perspective: str, releases: list[Release[Any]]) -> list[Out]:
        counters = self.counters[perspective]
        out = []
        for release in releases:
            if release.item is None:
                counters.gaps += release.count
            out.append(Out(perspective, release.sequence, release.item, release.count))
        return out

    # --- detection --------------------------------------------------------------------------
    def _push_undetermined(
        self, perspective: str, sequence: int, item: Any, now: float
    ) -> list[Out]:
        seen = self._seen[perspective]
        if self._detecting is None:
            others = [p for p in self._buffers if p != perspective]
            if not others:
                if len(seen) < 64:  # the rest of _SEEN is for the frames while detecting
                    seen.add(sequence)
                return self._push_own(perspective, sequence, item, now)
            # A second perspective appears: look before choosing. Meanwhile the first leg's
            # numbers may be the socket's (twice as fast): do not call its gaps too early.
            self._detecting = perspective
            self._detect_started = now
            for buffer in self._buffers.values():
                buffer.window = self.window_frames * 2
        if sequence in self._seen[_other(perspective)]:
            self.mode = PER_PERSPECTIVE  # both legs used the same number
            out = self._replay_held(now)
            return out + self._push_own(perspective, sequence, item, now)
        if len(seen) < _SEEN:  # detection ends within 12 frames of the new leg, or at a tick
            seen.add(sequence)
        if perspective == self._detecting:
            self._held.append((sequence, item, now))
            held = len(self._held)
            if held >= DETECT_MAX_FRAMES or (held >= DETECT_FRAMES and self._conclusive()):
                return self._decide(now)
            return []
        return self._push_own(perspective, sequence, item, now)

    def _conclusive(self) -> bool:
        """Has the first leg numbered past the second leg's first frame? Only then does the
        absence of its numbers between the second leg's say how the socket counts."""
        assert self._detecting is not None  # called only while detecting
        low = min(self._seen[self._detecting])
        return any(s > low for s in self._seen[_other(self._detecting)])

    def _decide(self, now: float | None) -> list[Out]:
        """Per socket when the legs' numbers are disjoint yet interleave (the old leg used the
        numbers between the new leg's); otherwise each leg counts on its own."""
        assert self._detecting is not None  # called only while detecting
        new_seen = self._seen[self._detecting]
        old_seen = self._seen[_other(self._detecting)]
        low, high = min(new_seen), max(new_seen)
        interleaved = any(low < s < high for s in old_seen) or (
            len(new_seen) == 1 and (low - 1 in old_seen or low + 1 in old_seen)
        )
        shared = bool(old_seen & new_seen)
        self.mode = PER_SOCKET if interleaved and not shared else PER_PERSPECTIVE
        if self.mode == PER_PERSPECTIVE:
            return self._replay_held(now)
        return self._switch_to_global(now)

    def _replay_held(self, now: float | None) -> list[Out]:
        for buffer in self._buffers.values():
            buffer.window = self.window_frames
        held, self._held, new = self._held, [], self._detecting
        assert new is not None  # called only while detecting
        self._detecting = None
        out: list[Out] = []
        for sequence, item, arrived in held:
            out += self._push_own(new, sequence, item, arrived if now is None else now)
        return out

    def _switch_to_global(self, now: float | None) -> list[Out]:
        """Move the old leg's waiting frames and the held frames of the new leg into one
        buffer over the socket's numbering, in their order of arrival."""
        (old,) = [p for p in self._buffers if p != self._detecting]
        old_buffer = self._buffers.pop(old)
        self._owners = [None] * _OWNERS
        global_buffer: ReorderBuffer[Any] = ReorderBuffer(
            window=self.window_frames * 2,
            window_seconds=self.window_seconds,
            next_sequence=old_buffer.next_sequence,
        )
        self._global = global_buffer
        new = self._detecting
        assert new is not None  # called only while detecting
        self._detecting = None
        already_counted = Counters()
        arrivals = [
            (arrived, sequence, item, old, already_counted)
            for sequence, (item, arrived) in old_buffer.pending.items()
        ]
        arrivals += [
            (arrived, sequence, item, new, self.counters[new])
            for sequence, item, arrived in self._held
        ]
        self._held = []
        arrivals.sort(key=lambda entry: entry[0])
        out: list[Out] = []
        for arrived, sequence, item, perspective, counters in arrivals:
            self._owners[sequence % _OWNERS] = (sequence, perspective)
            releases = global_buffer.push(sequence, item, arrived if now is None else now, counters)
            out += self._from_global(releases)
        return out

    # --- per socket -------------------------------------------------------------------------
    def _owner(self, sequence: int) -> str | None:
        entry = self._owners[sequence % _OWNERS]
        return entry[1] if entry is not None and entry[0] == sequence else None

    def _from_global(self, releases: list[Release[Any]]) -> list[Out]:
        out = []
        for release in releases:
            sequence = release.sequence
            if release.item is not None:
                perspective = self._owner(sequence) or PARTICIPANT
                self._released_real[perspective] += 1
                out.append(Out(perspective, sequence, release.item))
            else:
                out += self._gap_outs(sequence, release.count)
        return out

    def _gap_outs(self, first: int, count: int) -> list[Out]:
        """Give each lost number of the shared counter to a leg, in O(1) however many: the
        first two one by one (:meth:`_gap_owner`), after which the rule there can only
        alternate between the legs (or give all to the one leg still live)."""
        out = []
        owners = self._owners
        for sequence in range(first, first + min(count, 2)):
            perspective = self._gap_owner(sequence)
            owners[sequence % _OWNERS] = (sequence, perspective)
            self.counters[perspective].gaps += 1
            out.append(Out(perspective, sequence, None))
        rest = count - 2
        if rest <= 0:
            return out
        start = first + 2
        live = [p for p in PERSPECTIVES if p not in self._stopped]
        if len(live) == 1:
            legs = (live[0], live[0])
            out.append(Out(live[0], start, None, rest))
            self.counters[live[0]].gaps += rest
        else:
            before2, before1 = self._owner(first), self._owner(first + 1)
            assert before2 is not None  # both given just above
            assert before1 is not None
            leg = before2 if before2 != before1 else _other(before1)
            legs = (leg, _other(leg))
            for offset, perspective in enumerate(legs):
                share = (rest - offset + 1) // 2
                if share:
                    out.append(Out(perspective, start + offset, None, share, 2))
                    self.counters[perspective].gaps += share
        # the last few, for the neighbours a later lost number looks at
        for sequence in range(max(start, start + rest - 4), start + rest):
            owners[sequence % _OWNERS] = (sequence, legs[(sequence - start) % 2])
        return out

    def _gap_owner(self, sequence: int) -> str:
        """Whose frame was lost? Legs alternate, so the one two numbers back; else the one
        with fewer frames; a stopped leg loses nothing."""
        live = [p for p in PERSPECTIVES if p not in self._stopped]
        if len(live) == 1:
            return live[0]
        before2, before1 = self._owner(sequence - 2), self._owner(sequence - 1)
        if before2 is not None and before1 is not None and before2 != before1:
            return before2
        if before1 is not None and before2 == before1:
            return _other(before1)
        after1, after2 = self._owner(sequence + 1), self._owner(sequence + 2)
        if after1 is not None and after2 is not None and after1 != after2:
            return after2  # the numbers after it alternate too
        if before1 is not None and after1 is not None and before1 == after1:
            return _other(before1)
        return min(PERSPECTIVES, key=lambda p: self._released_real[p])
