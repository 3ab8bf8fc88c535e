"""The ingest's side of live transcription: taps → workers, results → callbacks (asyncio).

Each live call subscribes one audio tap to its pipeline. On every ingest tick the link
drains the taps and sends each channel's new audio to the call's worker in one message per
channel. Nothing here can slow a call down: the tap drops when full, a worker that is slow
to read makes the link drop audio (counted on the call) rather than buffer without bound,
and a worker that is down is retried in the background while the recording goes on.

No audio leaves before the worker has proved it holds this instance's key (see
:mod:`.live_protocol`): a worker of another instance, or anything else listening where the
worker should be, is refused, counted and logged. Results are checked field by field and
must name a channel this connection opened; anything else is counted and dropped.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streaming.audio.taps import TapQueue
from streaming.transcription import live_protocol as wire
from streaming.transcription.live_protocol import Endpoint

logger = logging.getLogger("streaming.transcription.live")

SPEAKERS = {"Participant": "agent", "Conference": "caller"}
MAX_BUFFERED_BYTES = 2 * 1024 * 1024  # per worker connection; beyond it audio is dropped
RECONNECT_SECONDS = 2.0
CLOSE_WAIT_SECONDS = 120.0  # how long results of an ended call are still awaited


@dataclass(frozen=True)
class LinkSettings:
    """Where this instance's workers are and the key they must prove (from settings)."""

    endpoints: tuple[Endpoint, ...]
    key: bytes
    tls_ca: str = ""  # CA bundle for tcp+tls workers' certificates (empty: the system's)


@dataclass
class CallFeed:
    key: tuple[str, str]
    tap: TapQueue
    worker: WorkerConnection
    streams: dict[str, int] = field(default_factory=dict)  # perspective → stream id
    dropped_samples: int = 0
    ended_at: float | None = None
    open_streams: int = 0


class WorkerConnection:
    """One authenticated connection to a worker, reconnected when it drops."""

    def __init__(self, link: LiveTranscriptionLink, endpoint: Endpoint) -> None:
        self.link = link
        self.endpoint = endpoint
        self.writer: asyncio.StreamWriter | None = None
        self.calls = 0
        self.refused = 0  # connections whose peer did not prove the key (or its certificate)
        self.malformed = 0  # results dropped as malformed
        self._connecting: asyncio.Task | None = None
        self._last_attempt = 0.0
        self._warned = False

    @property
    def label(self) -> str:
        return str(self.endpoint)

    def usable(self) -> bool:
        if self.writer is not None and not self.writer.is_closing():
            return True
        now = time.monotonic()
        if self._connecting is None and now - self._last_attempt >= RECONNECT_SECONDS:
            self._last_attempt = now
            self._connecting = asyncio.get_running_loop().create_task(self._connect())
        return False

    async def _connect(self) -> None:
        writer = None
        try:
            reader, writer = await wire.connect(self.endpoint, tls=self.link.tls)
            await wire.ingest_handshake(reader, writer, self.link.key)
        except (wire.AuthenticationError, ssl.SSLError) as exc:
            self.refused += 1
            self.link.refused += 1
            if self.refused <= 3 or self.refused % 30 == 0:  # a retry every 2 s: not every one
                logger.warning(
                    "live transcription worker %s refused (%s); no audio sent to it (%s so far). "
                    "Is it another instance's worker, or is LIVE_TRANSCRIPTION_KEY different?",
                    self.label,
                    exc,
                    self.refused,
                )
            if writer is not None:
                wire.close_quietly(writer)
            return
        except (OSError, TimeoutError, wire.ProtocolError) as exc:
            if not self._warned:
                logger.warning(
                    "live transcription worker %s unreachable (%s); calls are recorded without "
                    "live transcripts until it is back",
                    self.label,
                    exc,
                )
                self._warned = True
            if writer is not None:
                wire.close_quietly(writer)
            return
        finally:
            self._connecting = None
        self._warned = False
        self.writer = writer
        logger.info("connected to live transcription worker %s", self.label)
        asyncio.get_running_loop().create_task(self._read(reader, writer))

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                message = await wire.read_message(reader, accept=wire.TO_INGEST)
                if message is None:
                    break
                try:
                    result = wire.result_parse(message[1])
                except wire.ProtocolError as exc:
                    self._malformed(exc)
                    continue
                self.link.on_worker_result(result, worker=self)
        except wire.ProtocolError as exc:  # framing: the rest of the stream cannot be trusted
            self.malformed += 1
            logger.warning("live transcription worker %s: %s; reconnecting", self.label, exc)
        except OSError as exc:
            logger.warning("live transcription worker %s: %s; reconnecting", self.label, exc)
        finally:
            wire.close_quietly(writer)
            if self.writer is writer:
                self.writer = None
            self.link.on_worker_lost(self)

    def _malformed(self, exc: Exception) -> None:
        self.malformed += 1
        if self.malformed <= 10 or self.malformed % 1000 == 0:
            logger.warning(
                "malformed result from live transcription worker %s dropped (%s so far): %s",
                self.label,
                self.malformed,
                exc,
            )

    def send(self, data: bytes, *, droppable: bool) -> bool:
        writer = self.writer
        if writer is None or writer.is_closing():
            return False
        if droppable and writer.transport.get_write_buffer_size() > MAX_BUFFERED_BYTES:
            return False
        writer.write(data)
        return True


class LiveTranscriptionLink:
    """Per ingest process: the workers, the live calls' feeds, the results."""

    def __init__(
        self,
        settings: LinkSettings,
        *,
        on_result: Callable[[tuple[str, str], str, dict[str, Any]], None],
        tap_size: int = 400,
    ) -> None:
        self.key = wire.key_check(settings.key)
        self.tls = (
            wire.client_tls_context(settings.tls_ca)
            if any(e.scheme == "tls" for e in settings.endpoints)
            else None
        )
        self.workers = [WorkerConnection(self, endpoint) for endpoint in settings.endpoints]
        self.refused = 0
        self.on_result = on_result
        self.tap_size = tap_size
        self.feeds: dict[tuple[str, str], CallFeed] = {}
        self._streams: dict[int, tuple[CallFeed, str]] = {}
        self._ids = itertools.count(1)

    def attach(self, key: tuple[str, str], pipeline) -> CallFeed | None:
        """Start transcribing a call live (None when no worker is configured)."""
        if not self.workers or key in self.feeds:
            return self.feeds.get(key)
        for worker in self.workers:
            worker.usable()  # start connecting early
        worker = min(self.workers, key=lambda w: (not w.usable(), w.calls))
        worker.calls += 1
        feed = CallFeed(key=key, tap=pipeline.subscribe(maxsize=self.tap_size), worker=worker)
        self.feeds[key] = feed
        return feed

    def pump(self) -> None:
        """Send what the taps collected since the last tick (called by the ingest's ticker)."""
        now = time.monotonic()
        for key, feed in list(self.feeds.items()):
            if feed.ended_at is None:
                self._pump_feed(feed)
            elif now - feed.ended_at > CLOSE_WAIT_SECONDS or (
                feed.open_streams == 0 and not feed.streams
            ):
                self._forget(key, feed)

    def _pump_feed(self, feed: CallFeed) -> None:
        chunks: dict[str, list] = {}
        while (chunk := feed.tap.poll()) is not None:
            chunks.setdefault(chunk.perspective, []).append(chunk)
        if not chunks:
            return
        worker = feed.worker
        if not worker.usable():
            feed.dropped_samples += sum(len(c.samples) for cs in chunks.values() for c in cs)
            feed.tap.dropped += sum(len(cs) for cs in chunks.values())
            return
        for perspective, items in chunks.items():
            stream = feed.streams.get(perspective)
            if stream is None:
                stream = next(self._ids)
                speaker = SPEAKERS.get(perspective, "caller")
                sent = worker.send(
                    wire.encode_json(
                        wire.OPEN,
                        {
                            "stream": stream,
                            "call": feed.key[0],
                            "speaker": speaker,
                            "start_sample": items[0].start_sample,
                        },
                    ),
                    droppable=False,
                )
                if not sent:
                    continue
                feed.streams[perspective] = stream
                feed.open_streams += 1
                self._streams[stream] = (feed, speaker)
            # Chunks of one leg are contiguous (gaps come as silence): one message carries all.
            samples = np.concatenate([c.samples for c in items])
            if not worker.send(
                wire.encode_audio(stream, items[0].start_sample, samples), droppable=True
            ):
                feed.dropped_samples += len(samples)
                feed.tap.dropped += len(items)

    def detach(self, key: tuple[str, str]) -> None:
        """The call ended: send its last audio, then end its channels (results still come)."""
        feed = self.feeds.get(key)
        if feed is None or feed.ended_at is not None:
            return
        self._pump_feed(feed)
        for stream in feed.streams.values():
            feed.worker.send(wire.encode_end(stream), droppable=False)
        feed.ended_at = time.monotonic()
        feed.worker.calls -= 1

    def on_worker_result(self, data: dict[str, Any], *, worker: WorkerConnection) -> None:
        """A checked result (``live_protocol.result_parse``) from ``worker``: only for a
        channel opened on that worker (never another worker's call)."""
        entry = self._streams.get(data["stream"])
        if entry is None or entry[0].worker is not worker:
            return
        feed, speaker = entry
        stream = data["stream"]
        if data.get("closed"):
            feed.open_streams -= 1
            del self._streams[stream]
            if feed.ended_at is not None and feed.open_streams <= 0:
                self._forget(feed.key, feed)
            return
        try:
            self.on_result(feed.key, speaker, data)
        except Exception:
            logger.exception("a live transcript result could not be delivered")

    def on_worker_lost(self, worker: WorkerConnection) -> None:
        """Its calls' channels are gone with it; they reopen on the next audio if it returns."""
        for feed in self.feeds.values():
            if feed.worker is worker:
                for stream in feed.streams.values():
                    self._streams.pop(stream, None)
                feed.streams.clear()
                feed.open_streams = 0

    def _forget(self, key: tuple[str, str], feed: CallFeed) -> None:
        for stream in feed.streams.values():
            self._streams.pop(stream, None)
        if self.feeds.get(key) is feed:
            del self.feeds[key]

    def stats(self, key: tuple[str, str]) -> dict[str, Any] | None:
        feed = self.feeds.get(key)
        if feed is None:
            return None
        return {"worker": feed.worker.label, "dropped_seconds": feed.dropped_samples / 8000}
