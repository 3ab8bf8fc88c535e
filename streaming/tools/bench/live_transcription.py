"""Live transcription load: how many calls one worker core keeps under the latency target.

A driver plays N stereo calls in real time to one live worker process over the same wire
the ingest uses (audio batched every 200 ms, as the ingest's ticker does), and times every
final from the end of its speech (the utterance's end in the audio, less the VAD's padding)
to its arrival. N grows until the 95th percentile passes the target or finals go missing.
The worker is pinned to one core where the OS allows, the driver to another.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import IO

import numpy as np

from streaming.transcription import live_protocol as wire
from streaming.transcription.engines.base import Segment, UtteranceEngine
from streaming.transcription.repetition import segments_without_repeats
from streaming.transcription.resample import upsample_to_16k
from streaming.transcription.segmenter import SegmenterConfig, UtteranceSegmenter

from .processes import (
    PROJECT_DIR,
    can_pin,
    cpu_seconds,
    free_port,
    pinned_argv,
    stop_process,
    wait_for_port,
)

TICK_SECONDS = 0.2
PAD_SECONDS = SegmenterConfig().pad_ms / 1000


@dataclass
class LiveRound:
    calls: int
    finals: int = 0
    partials: int = 0
    latencies: list[float] = field(default_factory=list)
    worker_cpu: float = 0.0  # cores used by the worker while the round ran

    def percentile(self, q: float) -> float | None:
        if not self.latencies:
            return None
        return float(np.percentile(self.latencies, q))

    def summary(self) -> str:
        p50, p95 = self.percentile(50), self.percentile(95)
        return (
            f"{self.calls} live calls: {self.finals} finals, {self.partials} partials, latency "
            f"p50 {p50 if p50 is None else round(p50, 2)} s, p95 "
            f"{p95 if p95 is None else round(p95, 2)} s, worker cpu {self.worker_cpu:.0%}"
        )


async def drive(
    *,
    port: int,
    key: str,
    left: np.ndarray,
    right: np.ndarray,
    calls: int,
    stagger: float = 0.37,
) -> LiveRound:
    """Play ``calls`` copies of a stereo call and time their finals.

    Real calls are not in step: copy ``i`` starts at a pause about ``i/calls`` of the way into
    the call (and wraps round), so utterances end at spread-out moments, not all at once.
    """
    pauses = quiet_points(left, right)
    length = len(left)
    offsets = [
        min(pauses, key=lambda p: abs(p - i * length // calls)) if pauses else 0
        for i in range(calls)
    ]
    reader, writer = await wire.connect(wire.Endpoint("tcp", host="127.0.0.1", port=port))
    await wire.ingest_handshake(reader, writer, key.encode())
    result = LiveRound(calls=calls)
    starts: dict[int, float] = {}
    expected_streams = 2 * calls
    closed = 0
    done = asyncio.Event()

    async def receive() -> None:
        nonlocal closed
        while True:
            message = await wire.read_message(reader, accept=wire.TO_INGEST)
            if message is None:
                break
            data = wire.decode_json(message[1])
            now = time.monotonic()
            if data.get("closed"):
                closed += 1
                if closed == expected_streams:
                    done.set()
                continue
            if not data["is_final"]:
                result.partials += 1
                continue
            result.finals += 1
            spoken_until = starts[data["stream"]] + float(data["end"]) - PAD_SECONDS
            result.latencies.append(now - spoken_until)

    async def play(index: int) -> None:
        await asyncio.sleep(index * stagger)
        own_left, own_right = np.roll(left, -offsets[index]), np.roll(right, -offsets[index])
        streams = (2 * index + 1, 2 * index + 2)
        for stream, speaker in zip(streams, ("agent", "caller"), strict=True):
            writer.write(
                wire.encode_json(
                    wire.OPEN,
                    {
                        "stream": stream,
                        "call": f"bench-{index}",
                        "speaker": speaker,
                        "start_sample": 0,
                    },
                )
            )
        begin = time.monotonic()
        for stream in streams:
            starts[stream] = begin
        step = int(TICK_SECONDS * 8000)
        for offset in range(0, len(left), step):
            # real time: send a tick's audio once it has "happened"
            await asyncio.sleep(max(0.0, begin + (offset + step) / 8000 - time.monotonic()))
            for stream, channel in zip(streams, (own_left, own_right), strict=True):
                writer.write(wire.encode_audio(stream, offset, channel[offset : offset + step]))
        for stream in streams:
            writer.write(wire.encode_end(stream))

    receiver = asyncio.create_task(receive())
    await asyncio.gather(*(play(i) for i in range(calls)))
    try:
        await asyncio.wait_for(done.wait(), 120)
    finally:
        receiver.cancel()
        writer.close()
    return result


@dataclass
class LiveWorkerProcess:
    process: subprocess.Popen
    port: int
    key: str  # its LIVE_TRANSCRIPTION_KEY


def live_worker_start(
    *,
    port: int | None = None,
    partials: bool,
    stdout: int | IO[bytes] = subprocess.DEVNULL,
    cpu: int | None = None,
) -> LiveWorkerProcess:
    """A live worker subprocess on loopback with a key of its own, once it accepts connections.

    The worker loads and checks its model before it listens, so this waits up to 120 s.
    ``stdout`` takes its output and errors; ``cpu`` pins it to that core where the OS
    allows. It runs in a session of its own: ``live_worker_stop`` signals the whole group.
    """
    if port is None:
        port = free_port()
    key = secrets.token_urlsafe(32)
    argv = [
        sys.executable,
        "-m",
        "streaming.transcription.live_worker",
        "--listen",
        f"tcp://127.0.0.1:{port}",
        "--partials" if partials else "--no-partials",
    ]
    process = subprocess.Popen(
        pinned_argv(argv, cpu if can_pin(cpu) else None),
        cwd=PROJECT_DIR,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "LIVE_TRANSCRIPTION_KEY": key},
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=120, process=process)
    except TimeoutError as exc:
        live_worker_stop(process)
        raise RuntimeError(f"the live worker did not start listening: {exc}") from exc
    except BaseException:
        live_worker_stop(process)
        raise
    return LiveWorkerProcess(process, port, key)


def live_worker_stop(process: subprocess.Popen) -> None:
    """SIGTERM to the worker's process group, then SIGKILL if it is still there after 20 s."""
    stop_process(process, timeout=20)


def quiet_points(left: np.ndarray, right: np.ndarray, *, pause_seconds: float = 0.5) -> list[int]:
    """Sample positions in the middle of pauses where neither party speaks."""
    block = 400  # 50 ms
    count = min(len(left), len(right)) // block
    loud = np.zeros(count, dtype=bool)
    for channel in (left, right):
        frames = channel[: count * block].astype(np.float32).reshape(count, block)
        loud |= np.sqrt(np.mean(frames**2, axis=1)) > 300
    points, run = [], 0
    for index, is_loud in enumerate(loud):
        run = 0 if is_loud else run + 1
        if run == int(pause_seconds * 8000 / block):
            points.append((index - run // 2) * block)
    return points


def live_capacity(
    *,
    left: np.ndarray,
    right: np.ndarray,
    target_p95: float = 1.5,
    max_calls: int = 16,
    partials: bool = False,
    worker_cpu: int | None = 0,
    log=print,
) -> tuple[LiveRound | None, list[LiveRound]]:
    """The largest round meeting the target, and every round run (calls 1, 2, 3, …)."""
    worker = live_worker_start(partials=partials, cpu=worker_cpu)
    process = worker.process
    try:
        if can_pin(worker_cpu):
            others = os.sched_getaffinity(0) - {worker_cpu}
            if others:
                os.sched_setaffinity(0, others)
        rounds: list[LiveRound] = []
        best = None
        calls = 1
        while calls <= max_calls:
            before = cpu_seconds(process.pid)
            started = time.monotonic()
            result = asyncio.run(
                drive(port=worker.port, key=worker.key, left=left, right=right, calls=calls)
            )
            result.worker_cpu = (cpu_seconds(process.pid) - before) / (time.monotonic() - started)
            rounds.append(result)
            log("  " + result.summary())
            p95 = result.percentile(95)
            if p95 is None or p95 >= target_p95:
                break
            best = result
            calls = calls + 1 if calls < 4 else calls + 2
        return best, rounds
    finally:
        live_worker_stop(process)


def live_transcribe(engine: UtteranceEngine, samples: np.ndarray) -> list[Segment]:
    """A clip (8 kHz ``int16``) as a live worker hears it: cut into utterances by its voice
    activity segmenter, each decoded alone, loops removed as before a line is sent."""
    segmenter = UtteranceSegmenter()
    audio = upsample_to_16k(samples)
    utterances = segmenter.feed(np.concatenate([audio, np.zeros(16000, np.float32)]))
    segments: list[Segment] = []
    for utterance in utterances + segmenter.finish():
        segments += segments_without_repeats(engine.transcribe_utterance(utterance.audio))
    return segments
