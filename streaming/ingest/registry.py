"""The live calls of this process: who is here, who is on the way, who is ending.

The registry only keeps state; it never reads a socket's internals. Sockets register
themselves through two narrow protocols: what a call may do to its sockets (close them) and
what the ticker may ask of every open socket (check its limits).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Protocol

from ringadmin.calls.groups import call_group_name
from ringadmin.calls.models import CallStatus
from streaming.audio.pipeline import CallPipeline
from streaming.ingest.stats import stats_continued

CallKey = tuple[str, str]  # (RingCX call id, session id)


class CallSocket(Protocol):
    """One socket of a live call, as its call sees it. The call's ending closes it (the socket
    keeps its own reason and state); its peers ask whether it has finished sending."""

    async def close(self, code: int, reason: str) -> None: ...

    @property
    def finished_sending(self) -> bool: ...


class LimitChecked(Protocol):
    """An open socket, as the ticker sees it: its limits are checked once per tick period."""

    def check_limits(self, now: float) -> None: ...


@dataclass(eq=False)
class LiveCall:
    key: CallKey
    call_pk: int | None  # None until the call row is written (in the background)
    pipeline: CallPipeline
    started_at: float
    last_media: float
    connections: set[CallSocket] = field(default_factory=set)
    orphaned_since: float | None = None
    stop_metadata: dict[str, Any] = field(default_factory=dict)
    finalizing: bool = False
    last_event: float = 0.0
    db_ready: asyncio.Event = field(default_factory=asyncio.Event)
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


class CallRegistry:
    """Per event loop: the live calls by key, the open sockets, the sockets on their way to a
    call, the calls that are ending, live calls per profile and refusals after the handshake."""

    def __init__(self, *, slots: int) -> None:
        self.slots = slots  # each call gets one, round robin: the ticker ticks a slot at a time
        self.live: dict[CallKey, LiveCall] = {}
        self.connections: set[LimitChecked] = set()
        # sockets whose handshake named a call but whose Start is not processed yet, with the
        # (verified) profile that opened each
        self.arriving: dict[CallKey, dict[object, int]] = {}
        # calls that are ending: a new Start of one waits for its final record (or is refused)
        self.ending: dict[CallKey, LiveCall] = {}
        self.calls_by_profile: dict[int, int] = {}
        self.refused: dict[str, int] = {}  # streams refused after the handshake, by kind
        self._next_slot = 0

    def add_live(self, live: LiveCall) -> None:
        """A new call: give it its slice of the tick period (round robin) and keep it."""
        live.slot = self._next_slot
        self._next_slot = (self._next_slot + 1) % self.slots
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

    def note_arriving(self, key: CallKey | None, socket: object, profile_id: int) -> None:
        """An accepted socket named this call in its handshake (its profile verified)."""
        if key is not None:
            self.arriving.setdefault(key, {})[socket] = profile_id

    def note_arrived(self, key: CallKey | None, socket: object) -> None:
        """The socket started (or ended): it no longer holds the call open."""
        if key is None:
            return
        waiting = self.arriving.get(key)
        if waiting is not None:
            waiting.pop(socket, None)
            if not waiting:
                del self.arriving[key]

    def arriving_for(self, live: LiveCall) -> bool:
        """Is a socket of the call's own profile on its way (accepted, naming the call, no
        Start yet)? Another profile's socket naming the call never holds it open."""
        return any(
            profile_id == live.profile_id for profile_id in self.arriving.get(live.key, {}).values()
        )

    def count_refusal(self, kind: str) -> None:
        self.refused[kind] = self.refused.get(kind, 0) + 1
