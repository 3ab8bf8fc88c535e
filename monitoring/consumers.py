"""Browsers' live view of one call: relays the call's channel-layer group to the page."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from ringadmin.calls.groups import call_group_name
from ringadmin.calls.selectors import call_for_user
from streaming.transcription.services import live_transcript_lines


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
