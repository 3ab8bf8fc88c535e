"""The live worker's own logic, with a stand-in engine: utterances found by the real VAD in
real-time order, finals for each pause, partials only when asked for, times on the call's
timeline, and a closing message once the channel's last utterance is out."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from streaming.tools.simulator import load_wav
from streaming.transcription import live_protocol as wire
from streaming.transcription.engines.base import EngineInfo, Segment
from streaming.transcription.live_worker import LiveWorker, WorkerConfig
from tests.streaming.transcription.conftest import FIXTURES


class CountingEngine:
    info = EngineInfo("stand-in", "1")

    def __init__(self) -> None:
        self.calls = 0

    def transcribe_utterance(self, audio_16k: np.ndarray) -> list[Segment]:
        self.calls += 1
        seconds = len(audio_16k) / 16000
        return [Segment(0.0, seconds, f"utterance of {seconds:.1f} s")]


async def run_worker(*, partials: bool, start_sample: int) -> list[dict]:
    audio = load_wav(FIXTURES / "live_dialogue_8k.wav").left  # the agent's side: 2 utterances
    key = b"k" * 40
    worker = LiveWorker(WorkerConfig(partials=partials), key=key, engine=CountingEngine())
    decoder = asyncio.create_task(worker.decode_forever())
    server = await asyncio.start_server(worker.handle, "127.0.0.1", 0)
    reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname()[:2])
    await wire.ingest_handshake(reader, writer, key)
    writer.write(
        wire.encode_json(wire.OPEN, {"stream": 1, "speaker": "agent", "start_sample": start_sample})
    )
    for offset in range(0, len(audio), 1600):  # 200 ms ticks, as the ingest sends them
        writer.write(wire.encode_audio(1, start_sample + offset, audio[offset : offset + 1600]))
        await writer.drain()
        await asyncio.sleep(0)  # let the worker keep up, as it would in real time
    writer.write(wire.encode_end(1))
    results = []
    while True:
        kind, body = await asyncio.wait_for(wire.read_message(reader), 30)
        assert kind == wire.RESULT
        result = json.loads(body)
        results.append(result)
        if result.get("closed"):
            break
    writer.close()
    server.close()
    decoder.cancel()
    return results


async def test_finals_at_each_pause_on_the_call_timeline() -> None:
    results = await run_worker(partials=False, start_sample=8000 * 100)
    finals = [r for r in results if not r.get("closed")]
    assert all(r["is_final"] for r in finals)
    assert [r["utterance"] for r in finals] == list(range(1, len(finals) + 1))
    assert len(finals) >= 2  # "…Acme support." and "How can I help you today?"
    # the agent speaks from 3.0 s of the fixture, which starts 100 s into the call
    assert finals[0]["start"] == pytest.approx(103.0, abs=0.3)
    assert finals[-1]["end"] == pytest.approx(107.55, abs=0.5)
    assert results[-1] == {"stream": 1, "closed": True}


async def test_partials_come_before_their_final_when_enabled() -> None:
    results = await run_worker(partials=True, start_sample=0)
    lines = [r for r in results if not r.get("closed")]
    partials = [r for r in lines if not r["is_final"]]
    assert partials
    first = partials[0]
    final = next(r for r in lines if r["is_final"] and r["utterance"] == first["utterance"])
    assert lines.index(first) < lines.index(final)
    assert final["end"] >= first["end"]


class LoopingEngine(CountingEngine):
    def transcribe_utterance(self, audio_16k: np.ndarray) -> list[Segment]:
        self.calls += 1
        return [Segment(0.0, 1.0, "Hello. " + "Can I help you? " * 34)]


async def test_a_loop_never_leaves_the_worker() -> None:
    """What viewers see live is checked for repetition loops too, not only what is stored."""
    key = b"k" * 40
    worker = LiveWorker(WorkerConfig(), key=key, engine=LoopingEngine())
    decoder = asyncio.create_task(worker.decode_forever())
    server = await asyncio.start_server(worker.handle, "127.0.0.1", 0)
    reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname()[:2])
    await wire.ingest_handshake(reader, writer, key)
    audio = load_wav(FIXTURES / "live_dialogue_8k.wav").left
    writer.write(wire.encode_json(wire.OPEN, {"stream": 1, "speaker": "agent", "start_sample": 0}))
    writer.write(wire.encode_audio(1, 0, audio))
    writer.write(wire.encode_end(1))
    texts = []
    while True:
        _kind, body = await asyncio.wait_for(wire.read_message(reader), 30)
        result = json.loads(body)
        if result.get("closed"):
            break
        texts.append(result["text"])
    writer.close()
    server.close()
    decoder.cancel()
    assert texts
    assert set(texts) == {"Hello. Can I help you?"}


def test_the_benchmark_decodes_a_clip_as_the_worker_does() -> None:
    """``live_transcribe`` (the benchmark's live word error rate): the worker's utterances,
    each decoded alone, loops removed."""
    from streaming.tools.bench.live_transcription import live_transcribe

    audio = load_wav(FIXTURES / "live_dialogue_8k.wav").left
    counting = CountingEngine()
    segments = live_transcribe(counting, audio)
    assert counting.calls == len(segments) >= 2  # "…Acme support." and "How can I help you today?"
    assert live_transcribe(LoopingEngine(), audio)[0].text == "Hello. Can I help you?"


async def test_a_worker_far_behind_sheds_finals_and_its_backlog_stays_bounded(monkeypatch) -> None:
    from types import SimpleNamespace

    from streaming.transcription import live_worker
    from streaming.transcription.segmenter import Utterance

    monkeypatch.setattr(live_worker, "MAX_QUEUED_SECONDS", 3.0)
    worker = LiveWorker(WorkerConfig(), key=b"k" * 40, engine=CountingEngine())
    channel = SimpleNamespace(pending=0, call="c1")
    second = np.zeros(16000, dtype=np.float32)
    for index in range(1, 11):
        worker._enqueue(
            channel, Utterance(index, index, index + 1, second, True), live_worker.FINAL
        )
    assert worker._jobs.qsize() == channel.pending == 3
    assert worker.decoded["final_shed"] == 7
