"""A live transcription worker: ``python -m streaming.transcription.live_worker --listen ADDRESS``.

``ADDRESS`` is ``unix:/path.sock``, ``tcp://127.0.0.1:PORT`` or ``tcp+tls://HOST:PORT`` (with
``LIVE_TRANSCRIPTION_TLS_CERT`` and ``_KEY``); ``LIVE_TRANSCRIPTION_KEY`` is the key an ingest
must prove before it is served, and that this worker proves in return (:mod:`.live_protocol`).

Ingest processes stream each live call's channels here; the worker
segments every channel by voice activity and decodes each utterance with Whisper when its
speaker pauses (the final), and, when enabled and idle, decodes the growing utterance at
most once a second (a partial). The model runs here, never in the ingest. One worker decodes
one utterance at a time on one core; run more workers (addresses) to transcribe more calls.

Under load, partials are dropped first: a partial only starts when no final is waiting, and a
stale one (its utterance already final) is skipped. Finals are shed only by a worker so far
behind (``MAX_QUEUED_SECONDS`` of speech waiting) that they would come minutes late: memory
stays bounded whatever arrives.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import logging.config
import os
import signal
import ssl
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ringadmin.logging import log_format_default, logging_config
from streaming.transcription import live_protocol as wire
from streaming.transcription.engines.base import UtteranceEngine
from streaming.transcription.engines.whisper import WhisperConfig, WhisperEngine
from streaming.transcription.repetition import segments_without_repeats
from streaming.transcription.resample import Upsampler2x
from streaming.transcription.segmenter import SegmenterConfig, Utterance, UtteranceSegmenter

logger = logging.getLogger("streaming.transcription.live")

INPUT_RATE = 8000
MAX_JUMP_SECONDS = 5.0  # audio missing for longer than this restarts the channel's segmenter
FINAL, PARTIAL = 0, 1
MAX_STREAMS_PER_CONNECTION = 4096  # two per live call
MAX_HANDSHAKING = 64  # connections not yet authenticated; more are closed at once
MAX_QUEUED_SECONDS = 900.0  # utterances waiting to be decoded, all channels together
MAX_UNREAD_RESULTS = 4 * 1024 * 1024  # an ingest that stops reading is disconnected


@dataclass
class WorkerConfig:
    whisper: WhisperConfig = field(
        default_factory=lambda: WhisperConfig(beam_size=1, cpu_threads=1, vad_filter=False)
    )
    partials: bool = False
    partial_interval: float = 1.0
    segmenter: SegmenterConfig = field(default_factory=SegmenterConfig)


@dataclass
class ChannelStream:
    stream: int
    call: str
    speaker: str
    writer: asyncio.StreamWriter
    next_sample: int
    segmenter: UtteranceSegmenter
    upsampler: Upsampler2x = field(default_factory=Upsampler2x)
    last_partial: float = 0.0
    finals_sent: int = 0
    closed: bool = False
    pending: int = 0  # decode jobs not yet done


@dataclass(order=True)
class Job:
    priority: int
    order: int
    channel: ChannelStream = field(compare=False)
    utterance: Utterance = field(compare=False)
    audio_end_at: float = field(compare=False, default=0.0)


class LiveWorker:
    def __init__(
        self,
        config: WorkerConfig | None = None,
        *,
        key: bytes | str,
        engine: UtteranceEngine | None = None,
    ) -> None:
        self.config = config or WorkerConfig()
        self.key = wire.key_check(key)
        self.engine = engine or WhisperEngine(self.config.whisper)
        self._jobs: asyncio.PriorityQueue[Job] = asyncio.PriorityQueue()
        self._order = itertools.count()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisper")
        self.decoded = {"final": 0, "partial": 0, "partial_shed": 0, "final_shed": 0}
        self.streams_open = 0
        self.refused = 0  # connections that did not prove the key
        self.malformed = 0  # connections dropped for breaking the protocol
        self._handshaking = 0
        self._queued_samples = 0

    def warm_up(self) -> None:
        """Load (and verify) the model before the first call needs it."""
        self.engine.transcribe_utterance(np.zeros(16000, dtype=np.float32))

    # --- connections ----------------------------------------------------------------------
    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or "a local process"
        if self._handshaking >= MAX_HANDSHAKING:
            self._refuse(peer, "too many connections authenticating at once")
            wire.close_quietly(writer)
            return
        self._handshaking += 1
        try:
            await wire.worker_handshake(reader, writer, self.key)
        except wire.HandshakeAbandoned:
            logger.debug("a connection from %s closed before authenticating", peer)
            wire.close_quietly(writer)
            return
        except (wire.AuthenticationError, TimeoutError, OSError) as exc:
            self._refuse(peer, str(exc) or type(exc).__name__)
            wire.close_quietly(writer)
            return
        finally:
            self._handshaking -= 1
        await self._serve(reader, writer, peer)

    def _refuse(self, peer: Any, reason: str) -> None:
        self.refused += 1
        if self.refused > 10 and self.refused % 100:
            return  # counted; a flood of strangers does not flood the log
        logger.warning(
            "live transcription connection from %s refused (%s so far): %s",
            peer,
            self.refused,
            reason,
        )

    async def _serve(self, reader, writer, peer) -> None:
        streams: dict[int, ChannelStream] = {}
        try:
            while True:
                message = await wire.read_message(reader, accept=wire.TO_WORKER)
                if message is None:
                    break
                kind, body = message
                if kind == wire.AUDIO:
                    stream_id, start, samples = wire.decode_audio(body)
                    channel = streams.get(stream_id)
                    if channel is not None and not channel.closed:
                        self._audio(channel, start, samples)
                elif kind == wire.OPEN:
                    data = wire.open_parse(body)
                    if data["stream"] in streams:
                        raise wire.ProtocolError(f"stream {data['stream']} is already open")
                    if len(streams) >= MAX_STREAMS_PER_CONNECTION:
                        raise wire.ProtocolError("too many streams open on one connection")
                    streams[data["stream"]] = self._open(data, writer)
                else:
                    channel = streams.pop(wire.decode_end(body), None)
                    if channel is not None:
                        self._end(channel)
        except wire.ProtocolError as exc:
            self.malformed += 1
            logger.warning("live transcription connection from %s dropped: %s", peer, exc)
        except OSError as exc:
            logger.warning("live transcription connection from %s lost: %s", peer, exc)
        except asyncio.CancelledError:
            # The worker is stopping. Ending quietly matters: on Python 3.11 asyncio logs a
            # traceback for every connection handler left cancelled.
            pass
        finally:
            for channel in streams.values():
                channel.closed = True
                self.streams_open -= 1
            wire.close_quietly(writer)

    def _open(self, data: dict[str, Any], writer: asyncio.StreamWriter) -> ChannelStream:
        start = data["start_sample"]
        channel = ChannelStream(
            stream=data["stream"],
            call=data["call"],
            speaker=data["speaker"],
            writer=writer,
            next_sample=start,
            segmenter=UtteranceSegmenter(self.config.segmenter, start_seconds=start / INPUT_RATE),
        )
        self.streams_open += 1
        return channel

    def _audio(self, channel: ChannelStream, start: int, samples: np.ndarray) -> None:
        if start > channel.next_sample:  # audio the ingest could not send: keep time right
            missing = start - channel.next_sample
            if missing > MAX_JUMP_SECONDS * INPUT_RATE:
                self._finish_utterances(channel)
                channel.segmenter = UtteranceSegmenter(
                    self.config.segmenter, start_seconds=start / INPUT_RATE
                )
                channel.upsampler = Upsampler2x()
            else:
                self._segment(channel, np.zeros(missing, dtype=np.int16))
        elif start < channel.next_sample:  # overlap (a resent chunk): keep only what is new
            samples = samples[channel.next_sample - start :]
        channel.next_sample = max(channel.next_sample, start + len(samples))
        if len(samples):
            self._segment(channel, samples)

    def _segment(self, channel: ChannelStream, samples: np.ndarray) -> None:
        now = time.time()
        for utterance in channel.segmenter.feed(channel.upsampler.process(samples)):
            self._enqueue(channel, utterance, FINAL)
        if (
            self.config.partials
            and now - channel.last_partial >= self.config.partial_interval
            and self._jobs.empty()
        ):
            current = channel.segmenter.current()
            if current is not None and current.end - current.start >= 0.5:
                channel.last_partial = now
                self._enqueue(channel, current, PARTIAL)

    def _finish_utterances(self, channel: ChannelStream) -> None:
        tail = channel.upsampler.process(np.zeros(64, dtype=np.int16))
        for utterance in channel.segmenter.feed(tail) + channel.segmenter.finish():
            self._enqueue(channel, utterance, FINAL)

    def _end(self, channel: ChannelStream) -> None:
        self._finish_utterances(channel)
        channel.closed = True
        self.streams_open -= 1
        if channel.pending == 0:
            self._send(channel, {"stream": channel.stream, "closed": True})

    def _enqueue(self, channel: ChannelStream, utterance: Utterance, priority: int) -> None:
        size = len(utterance.audio)
        if self._queued_samples + size > MAX_QUEUED_SECONDS * 16000:
            # Minutes behind: these lines would come far too late, and memory is bounded.
            self.decoded["final_shed" if priority == FINAL else "partial_shed"] += 1
            if priority == FINAL:
                logger.warning(
                    "live transcription worker %.0f s of speech behind: an utterance of call %s "
                    "is not transcribed live (%s so far); add workers",
                    self._queued_samples / 16000,
                    channel.call,
                    self.decoded["final_shed"],
                )
            return
        self._queued_samples += size
        channel.pending += 1
        self._jobs.put_nowait(
            Job(priority, next(self._order), channel, utterance, audio_end_at=time.time())
        )

    # --- decoding -------------------------------------------------------------------------
    async def decode_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            job = await self._jobs.get()
            channel = job.channel
            try:
                if job.priority == PARTIAL and (
                    not self._jobs.empty() or channel.segmenter.index >= job.utterance.index
                ):
                    self.decoded["partial_shed"] += 1  # finals first; stale partials never
                    continue
                segments = await loop.run_in_executor(
                    self._executor,
                    self.engine.transcribe_utterance,
                    job.utterance.audio,
                )
                self.decoded["final" if job.priority == FINAL else "partial"] += 1
                self._send_result(job, segments)
            except Exception:
                logger.exception("live decode failed; the call's next utterances go on")
            finally:
                self._queued_samples -= len(job.utterance.audio)
                channel.pending -= 1
                if channel.closed and channel.pending == 0:
                    self._send(channel, {"stream": channel.stream, "closed": True})

    def _send_result(self, job: Job, segments) -> None:
        utterance = job.utterance
        segments = segments_without_repeats(segments)  # Whisper's loops: never shown
        text = " ".join(s.text for s in segments).strip()
        if not text and not utterance.is_final:
            return
        words = [
            {
                "start": round(utterance.start + w.start, 3),
                "end": round(utterance.start + w.end, 3),
                "text": w.text,
                "confidence": w.confidence,
            }
            for s in segments
            for w in s.words
        ]
        self._send(
            job.channel,
            {
                "stream": job.channel.stream,
                "utterance": utterance.index,
                "text": text,
                "start": round(utterance.start, 3),
                "end": round(utterance.end, 3),
                "is_final": utterance.is_final,
                "words": words,
                "decode_seconds": round(time.time() - job.audio_end_at, 3),
            },
        )

    @staticmethod
    def _send(channel: ChannelStream, payload: dict[str, Any]) -> None:
        writer = channel.writer
        if writer.is_closing():
            return
        if writer.transport.get_write_buffer_size() > MAX_UNREAD_RESULTS:
            logger.warning("an ingest stopped reading its live transcripts: disconnected")
            writer.close()
            return
        writer.write(wire.encode_json(wire.RESULT, payload))

    async def serve(
        self,
        endpoint: wire.Endpoint,
        *,
        tls: ssl.SSLContext | None = None,
        ready: Callable[[str], None] | None = None,
    ) -> None:
        decoder = asyncio.create_task(self.decode_forever())
        server, address = await wire.listen(endpoint, self.handle, tls=tls)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        logger.info("live transcription worker listening on %s", address)
        if ready is not None:
            ready(address)
        try:
            async with server:
                await stop.wait()
        finally:
            decoder.cancel()
            if endpoint.scheme == "unix":
                wire.unix_socket_remove(endpoint.path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--listen",
        required=True,
        help="unix:PATH, tcp://127.0.0.1:PORT (loopback only) or tcp+tls://HOST:PORT",
    )
    parser.add_argument(
        "--tls-cert", default=os.environ.get("LIVE_TRANSCRIPTION_TLS_CERT", ""), help="PEM"
    )
    parser.add_argument(
        "--tls-key", default=os.environ.get("LIVE_TRANSCRIPTION_TLS_KEY", ""), help="PEM"
    )
    parser.add_argument("--model", default=os.environ.get("WHISPER_MODEL", "bundled"))
    parser.add_argument("--model-sha256", default=os.environ.get("WHISPER_MODEL_SHA256", ""))
    parser.add_argument(
        "--beam-size", type=int, default=int(os.environ.get("LIVE_TRANSCRIPTION_BEAM_SIZE", "1"))
    )
    parser.add_argument(
        "--partials",
        action=argparse.BooleanOptionalAction,
        default=os.environ.get("LIVE_TRANSCRIPTION_PARTIALS", "false").lower() in ("1", "true"),
    )
    parser.add_argument(
        "--log-level", default=os.environ.get("LOG_LEVEL", "INFO").upper(), help="as LOG_LEVEL"
    )
    parser.add_argument(
        "--log-format",
        default=os.environ.get("LOG_FORMAT")
        or log_format_default(debug=os.environ.get("DEBUG", "").lower() in ("1", "true")),
        help="as LOG_FORMAT (manage.py serve passes the application's)",
    )
    args = parser.parse_args(argv)
    try:
        endpoint = wire.endpoint_parse(args.listen, listen=True)
        key = wire.key_check(os.environ.get("LIVE_TRANSCRIPTION_KEY", ""))
        tls = None
        if endpoint.scheme == "tls":
            if not (args.tls_cert and args.tls_key):
                raise ValueError(
                    f"{endpoint} needs LIVE_TRANSCRIPTION_TLS_CERT and LIVE_TRANSCRIPTION_TLS_KEY"
                )
            tls = wire.server_tls_context(args.tls_cert, args.tls_key)
    except (ValueError, OSError) as exc:
        parser.error(str(exc))
    logging.config.dictConfig(logging_config(level=args.log_level, fmt=args.log_format))
    config = WorkerConfig(
        whisper=WhisperConfig(
            model=args.model,
            model_sha256=args.model_sha256,
            beam_size=args.beam_size,
            cpu_threads=1,
            vad_filter=False,
            allow_download=os.environ.get("WHISPER_ALLOW_DOWNLOAD", "").lower() in ("1", "true"),
        ),
        partials=args.partials,
    )
    worker = LiveWorker(config, key=key)
    worker.warm_up()
    asyncio.run(worker.serve(endpoint, tls=tls))


if __name__ == "__main__":
    main()
