"""RingCX ingest socket (placeholder until the ingest lands): refuses every connection."""

from __future__ import annotations

import logging

from channels.generic.websocket import AsyncWebsocketConsumer

logger = logging.getLogger(__name__)


class IngestConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        logger.warning("ingest socket refused: call ingest is not enabled on this server")
        await self.close(code=4503)
