"""The ingest's live transcription link: it never blocks or fails a call."""

from __future__ import annotations

import asyncio

import numpy as np

from streaming.audio.pipeline import CallPipeline, PipelineConfig
from streaming.audio.protocol import Media
from streaming.transcription import live_protocol as wire
from streaming.transcription.live_link import LinkSettings, LiveTranscriptionLink
from streaming.transcription.live_protocol import Endpoint
from tests.conftest import free_port

KEY = b"k" * 40


def loopback(port: int) -> LinkSettings:
    return LinkSettings((Endpoint("tcp", host="127.0.0.1", port=port),), KEY)


def media(perspective: str, sequence: int) -> Media:
    return Media(perspective=perspective, sequence=sequence, payload=b"\x10" * 160, sent_at=None)


def stream_frames(pipeline: CallPipeline, frames: int) -> None:
    feed = pipeline.open_socket()
    for n in range(1, frames + 1):
        for leg in ("Participant", "Conference"):
            pipeline.media(feed, media(leg, n), 0.0)


async def test_audio_for_an_unreachable_worker_is_dropped_and_counted(tmp_path) -> None:
    link = LiveTranscriptionLink(loopback(free_port()), on_result=lambda *a: None)
    pipeline = CallPipeline(path=tmp_path / "a.wav", config=PipelineConfig())
    assert link.attach(("c1", "1"), pipeline) is not None
    stream_frames(pipeline, 50)
    link.pump()  # nothing listens: the audio is dropped, nothing raises, nothing waits
    assert pipeline.stats()["taps"]["dropped"] >= 98
    assert link.stats(("c1", "1"))["dropped_seconds"] > 0.9
    link.detach(("c1", "1"))
    pipeline.close()


async def test_each_channel_reaches_the_worker_as_one_stream_with_its_timeline(tmp_path) -> None:
    received: list[tuple[int, bytes]] = []
    got_end = asyncio.Event()

    async def worker(reader, writer) -> None:
        await wire.worker_handshake(reader, writer, KEY)
        while (message := await wire.read_message(reader)) is not None:
            received.append(message)
            if message[0] == wire.END and sum(m[0] == wire.END for m in received) == 2:
                got_end.set()

    server = await asyncio.start_server(worker, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    link = LiveTranscriptionLink(loopback(port), on_result=lambda *a: None)
    pipeline = CallPipeline(path=tmp_path / "b.wav", config=PipelineConfig())
    link.attach(("c2", "1"), pipeline)
    while not link.workers[0].usable():
        await asyncio.sleep(0.01)  # the link connects in the background
    stream_frames(pipeline, 20)
    link.pump()
    stream_frames_more = pipeline.open_socket()
    for n in range(21, 31):
        for leg in ("Participant", "Conference"):
            pipeline.media(stream_frames_more, media(leg, n), 0.0)
    pipeline.close()
    link.detach(("c2", "1"))
    await asyncio.wait_for(got_end.wait(), 5)
    opens = {wire.decode_json(b)["speaker"]: wire.decode_json(b) for k, b in received if k == 1}
    assert set(opens) == {"agent", "caller"}
    by_stream: dict[int, list[tuple[int, np.ndarray]]] = {}
    for kind, body in received:
        if kind == wire.AUDIO:
            stream, start, samples = wire.decode_audio(body)
            by_stream.setdefault(stream, []).append((start, samples))
    for chunks in by_stream.values():
        position = chunks[0][0]
        for start, samples in chunks:
            assert start == position  # contiguous, no audio lost or repeated
            position += len(samples)
        assert position - chunks[0][0] >= 29 * 160
    server.close()
