"""The ingest's digest for the live calls page: one group message per process per period,
whatever the number of calls; nothing built when nobody listens; start and stop notices."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import BaseChannelLayer, InMemoryChannelLayer

from ringadmin.calls.groups import LIVE_CALLS_GROUP
from streaming.ingest import events as events_module
from streaming.ingest import live_digest as live_digest_module
from streaming.ingest.live_digest import LiveDigest
from streaming.ingest.runtime import IngestRuntime
from streaming.ingest.ticker import TICK_SLICES
from tests.streaming.test_ingest_fastpaths import ingest_config, live_call


class RecordingLayer(BaseChannelLayer):
    """A shared layer (as Redis is) that records what is sent to which group."""

    extensions = ["groups"]

    def __init__(self, *, block: asyncio.Event | None = None) -> None:
        super().__init__()
        self.sent: list[tuple[str, dict]] = []
        self.block = block

    async def group_send(self, group: str, message: dict) -> None:
        if self.block is not None:
            await self.block.wait()
        self.sent.append((group, message))

    def to(self, group: str) -> list[dict]:
        return [message for sent_to, message in self.sent if sent_to == group]


@pytest.fixture
async def runtime():
    running = IngestRuntime(ingest_config())
    running.live_digest.period = 1.0
    yield running
    await running.shutdown()
    for live in running.registry.live.values():
        live.pipeline.close()


def _use_layer(monkeypatch, layer) -> None:
    monkeypatch.setattr(live_digest_module, "get_channel_layer", lambda: layer)
    monkeypatch.setattr(events_module, "get_channel_layer", lambda: layer)


def _add_calls(runtime: IngestRuntime, tmp_path, count: int) -> list:
    calls = []
    for index in range(count):
        live = live_call(tmp_path, index)
        live.call_pk = 1000 + index
        runtime.registry.add_live(live)
        calls.append(live)
    return calls


async def _settle(runtime: IngestRuntime) -> None:
    """Wait for the tasks the ticks spawned (the sends)."""
    while pending := [t for t in runtime.tasks._tasks if not t.done()]:
        await asyncio.gather(*pending)


async def _run_ticker(runtime: IngestRuntime, *, start: float, seconds: float) -> None:
    """Tick as the ticker does (every slice of 0.2 s tick periods) for ``seconds``."""
    step = 0.2
    slices = round(seconds / step) * TICK_SLICES
    for i in range(slices):
        runtime.tick(start + i * step / TICK_SLICES, part=i % TICK_SLICES, parts=TICK_SLICES)
        await _settle(runtime)  # the ticker sleeps between slices: sends proceed meanwhile


@pytest.mark.parametrize("calls", [1, 50])
async def test_one_message_per_period_whatever_the_number_of_calls(
    runtime, tmp_path, monkeypatch, calls
) -> None:
    layer = RecordingLayer()
    _use_layer(monkeypatch, layer)
    _add_calls(runtime, tmp_path, calls)
    await _run_ticker(runtime, start=501.0, seconds=3.0)  # 15 tick periods, 150 slices
    digests = layer.to(LIVE_CALLS_GROUP)
    assert len(digests) == 3
    assert all(len(d["calls"]) == calls for d in digests)
    assert {entry["id"] for entry in digests[-1]["calls"]} == {1000 + i for i in range(calls)}
    assert digests[-1]["calls"][0]["seconds"] == pytest.approx(5 * 160 / 8000, abs=0.05)
    assert runtime.live_digest.sent == 3


async def test_nothing_is_built_when_nobody_listens(runtime, tmp_path, monkeypatch) -> None:
    layer = InMemoryChannelLayer()
    _use_layer(monkeypatch, layer)
    builds: list[int] = []
    real_build = LiveDigest.build

    def counting_build(self):
        builds.append(1)
        return real_build(self)

    monkeypatch.setattr(LiveDigest, "build", counting_build)
    _add_calls(runtime, tmp_path, 50)
    await _run_ticker(runtime, start=501.0, seconds=2.0)
    assert builds == []
    # A browser joins the group (in this process): from then on, one digest per period.
    channel = await layer.new_channel()
    await layer.group_add(LIVE_CALLS_GROUP, channel)
    await _run_ticker(runtime, start=510.0, seconds=2.0)
    assert len(builds) == 2
    received = await layer.receive(channel)
    assert received["type"] == "calls.digest"
    assert len(received["calls"]) == 50


async def test_a_slow_layer_skips_periods_instead_of_queueing(
    runtime, tmp_path, monkeypatch
) -> None:
    release = asyncio.Event()
    layer = RecordingLayer(block=release)
    _use_layer(monkeypatch, layer)
    _add_calls(runtime, tmp_path, 3)
    for second in range(5):  # five periods while the first digest is still on its way
        runtime.tick(501.0 + second, part=0, parts=TICK_SLICES)
        await asyncio.sleep(0)  # the spawned send starts and blocks in the layer
    assert runtime.live_digest.skipped == 4
    release.set()
    await _settle(runtime)
    assert len(layer.to(LIVE_CALLS_GROUP)) == 1


async def test_the_latest_transcript_line_rides_the_next_digest_and_stop_is_noticed(
    runtime, tmp_path, monkeypatch
) -> None:
    layer = RecordingLayer()
    _use_layer(monkeypatch, layer)
    first, second = _add_calls(runtime, tmp_path, 2)
    await runtime.events.publish(first, {"type": "call.started"})
    line = {"type": "transcript", "speaker": "agent", "text": "x" * 1000, "is_final": False}
    await runtime.events.publish(first, line)
    await runtime.events.publish(first, {**line, "text": "hello there", "is_final": True})
    await _run_ticker(runtime, start=501.0, seconds=1.0)
    (digest,) = layer.to(LIVE_CALLS_GROUP)[1:]
    by_id = {entry["id"]: entry for entry in digest["calls"]}
    assert by_id[first.call_pk]["line"] == {
        "speaker": "agent",
        "text": "hello there",
        "is_final": True,
    }
    assert by_id[second.call_pk]["line"] is None
    started = layer.to(LIVE_CALLS_GROUP)[0]
    assert started == {"type": "calls.notice", "notice": {"type": "call.started", "id": 1000}}
    runtime.registry.drop_live(first)
    await runtime.events.publish(first, {"type": "call.stopped", "status": "completed"})
    await _settle(runtime)
    assert layer.to(LIVE_CALLS_GROUP)[-1] == {
        "type": "calls.notice",
        "notice": {"type": "call.stopped", "id": 1000, "status": "completed"},
    }
    assert first.call_pk not in runtime.live_digest.last_lines
    # a late result of the ended call is not kept (its line would never be removed)
    await runtime.events.publish(first, {**line, "text": "late"})
    assert first.call_pk not in runtime.live_digest.last_lines


async def test_a_long_line_is_cut_to_its_end(runtime, tmp_path, monkeypatch) -> None:
    layer = RecordingLayer()
    _use_layer(monkeypatch, layer)
    (live,) = _add_calls(runtime, tmp_path, 1)
    text = "a" * 5000 + "the end"
    await runtime.events.publish(live, {"type": "transcript", "speaker": "caller", "text": text})
    entry = runtime.live_digest.build()["calls"][0]
    assert len(entry["line"]["text"]) == live_digest_module.LINE_CHARS
    assert entry["line"]["text"].endswith("the end")
