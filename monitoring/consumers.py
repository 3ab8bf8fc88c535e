"""Browsers' live views: one call (relays the call's group) and every live call (filters the
ingest's digest to the calls the user may see)."""

from __future__ import annotations

import logging
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils import timezone

from monitoring.live import live_calls_for, may_watch_live, user_reloaded, visible_call_ids
from ringadmin.calls.groups import LIVE_CALLS_GROUP, call_group_name
from ringadmin.calls.selectors import call_for_user
from streaming.transcription.services import live_transcript_lines

logger = logging.getLogger(__name__)


class CallEventsConsumer(AsyncJsonWebsocketConsumer):
    """Joins ``call.<id>`` if the signed-in user may watch that call; 4403 otherwise."""

    group_name: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        call_id = self.scope["url_route"]["kwargs"]["call_id"]
        if not await self._may_watch(user, call_id):
            await self.close(code=4403)
            return
        self.group_name = call_group_name(call_id)
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()
        # A late viewer first gets the transcript so far (finals), then the live lines.
        for line in await self._transcript_so_far(call_id):
            await self.send_json({"call_id": call_id, **line})

    async def disconnect(self, code: int) -> None:
        if self.group_name:
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        """The page only listens; anything it sends is ignored."""

    async def call_event(self, event: dict) -> None:
        await self.send_json(event["payload"])

    @database_sync_to_async
    def _transcript_so_far(self, call_id: int) -> list[dict]:
        return live_transcript_lines(call_id=call_id)

    @database_sync_to_async
    def _may_watch(self, user, call_id: int) -> bool:
        if user is None or not user.is_authenticated or not user.has_perm("calls.view_live_call"):
            return False
        return call_for_user(user=user, call_id=call_id) is not None


class LiveCallsConsumer(AsyncJsonWebsocketConsumer):
    """``/ws/calls/live/``: the live calls the signed-in user may see; 4403 otherwise.

    First the list from the database, then, from the ``calls.live`` group, each ingest
    process's digest (filtered) and calls starting and stopping. A call id is checked through
    the selector once, the first time it is seen; every ``RECHECK_SECONDS`` the user and the
    calls shown are checked again, so revoked access stops. A digest that waited longer than
    ``STALE_SECONDS`` (this socket fell behind) is dropped, never queued: the next is fresher.
    """

    RECHECK_SECONDS = 30.0
    STALE_SECONDS = 3.0
    MAX_TRACKED = 10_000  # call ids remembered as hidden before the memory is cleared

    joined = False

    async def connect(self) -> None:
        self.user = self.scope.get("user")
        if not await database_sync_to_async(may_watch_live)(self.user):
            await self.close(code=4403)
            return
        self.shown: dict[int, dict[str, Any]] = {}  # call id → summary, for this user
        self.hidden: set[int] = set()  # ids seen and not for this user
        self.checked_at = time.monotonic()
        self.dropped = 0
        await self.channel_layer.group_add(LIVE_CALLS_GROUP, self.channel_name)
        self.joined = True
        await self.accept()
        self.shown = await database_sync_to_async(live_calls_for)(user=self.user)
        await self.send_json(
            {
                "type": "calls.list",
                "server_time": timezone.now().isoformat(),
                "calls": list(self.shown.values()),
            }
        )

    async def disconnect(self, code: int) -> None:
        if self.joined:
            await self.channel_layer.group_discard(LIVE_CALLS_GROUP, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        """The page only listens; anything it sends is ignored."""

    async def calls_digest(self, event: dict[str, Any]) -> None:
        if time.time() - float(event.get("at", 0)) > self.STALE_SECONDS:
            self.dropped += 1
            return
        if not await self._still_allowed():
            return
        entries = event.get("calls") or []
        await self._learn({entry["id"] for entry in entries})
        shown = [entry for entry in entries if entry["id"] in self.shown]
        if shown:
            await self.send_json({"type": "calls.progress", "calls": shown})

    async def calls_notice(self, event: dict[str, Any]) -> None:
        notice = event["notice"]
        call_id = notice["id"]
        if notice["type"] == "call.started":
            if await self._still_allowed():
                await self._learn({call_id})
        elif notice["type"] == "call.stopped":
            self.hidden.discard(call_id)
            if self.shown.pop(call_id, None) is not None:
                await self.send_json(
                    {"type": "call.stopped", "id": call_id, "status": notice.get("status")}
                )

    async def _learn(self, call_ids: set[int]) -> None:
        """Check ids not seen before, once; announce those the user may see."""
        unknown = call_ids - self.shown.keys() - self.hidden
        if not unknown:
            return
        found = await database_sync_to_async(live_calls_for)(user=self.user, call_ids=unknown)
        if len(self.hidden) > self.MAX_TRACKED:
            self.hidden.clear()
        self.hidden |= unknown - found.keys()
        for call_id, summary in found.items():
            self.shown[call_id] = summary
            await self.send_json({"type": "call.started", "call": summary})

    async def _still_allowed(self) -> bool:
        """Every ``RECHECK_SECONDS``: is the user still allowed, and which shown calls may they
        still see? A user who lost the permission is disconnected (4403)."""
        if time.monotonic() - self.checked_at < self.RECHECK_SECONDS:
            return True
        self.checked_at = time.monotonic()
        user, still_visible = await database_sync_to_async(self._recheck)()
        if user is None:
            logger.info("live calls socket closed: the user may no longer watch live calls")
            await self.close(code=4403)
            return False
        self.user = user
        self.hidden.clear()  # checked again when next seen
        for call_id in [c for c in self.shown if c not in still_visible]:
            del self.shown[call_id]
            await self.send_json({"type": "call.hidden", "id": call_id})
        return True

    def _recheck(self) -> tuple[Any, set[int]]:
        user = user_reloaded(self.user)
        if user is None or not may_watch_live(user):
            return None, set()
        return user, visible_call_ids(user=user, call_ids=self.shown.keys())
