"""Each part of the ingest runtime on its own contract: no database, no server, no sockets."""

from __future__ import annotations

import asyncio

import pytest

from streaming.audio.pipeline import CallPipeline, PipelineConfig
from streaming.audio.protocol import CONFERENCE, PARTICIPANT, Media
from streaming.ingest import events as events_module
from streaming.ingest import stats_batch as stats_batch_module
from streaming.ingest.config import IngestConfig
from streaming.ingest.endings import CallEndings
from streaming.ingest.events import CallEvents
from streaming.ingest.registry import CallRegistry, LiveCall
from streaming.ingest.runtime import IngestRuntime
from streaming.ingest.shedding import LoadShedding
from streaming.ingest.stats_batch import StatsBatch
from streaming.ingest.tasks import TaskSet
from streaming.ingest.ticker import TICK_SLICES
from streaming.ingest.transcript_results import LiveTranscripts


def live_call(tmp_path, index: int, *, call_pk: int | None = None, profile_id=None) -> LiveCall:
    pipeline = CallPipeline(path=tmp_path / f"call{index}.wav")
    feed = pipeline.open_socket()
    for leg in (PARTICIPANT, CONFERENCE):
        pipeline.media(feed, Media(leg, 1, bytes([index]) * 160), 500.0)
    return LiveCall(
        key=(f"call{index}", "1"),
        call_pk=call_pk,
        pipeline=pipeline,
        started_at=500,
        last_media=500,
        profile_id=profile_id,
    )


def ingest_config(**overrides) -> IngestConfig:
    values = {
        "max_message_bytes": 65536,
        "start_timeout": 3600,
        "media_timeout": 3600,
        "max_call_seconds": 3600,
        "max_speed_ratio": 0,
        "speed_window": 3600,
        "reconnect_grace": 3600,
        "max_connections": 1000,
        "shed_lag_ms": 0,
        "events_hz": 0,
        "stats_interval": 3600,
        "tick_seconds": 3600,  # the runtime's own ticker stays asleep during the test
        "pipeline": PipelineConfig(),
    }
    return IngestConfig(**{**values, **overrides})


class RecordingSocket:
    """A socket as the parts see it (the CallSocket protocol), recording how it was closed."""

    def __init__(self, *, finished_sending: bool = False) -> None:
        self.closes: list[tuple[int, str]] = []
        self.finished_sending = finished_sending

    async def close(self, code: int, reason: str) -> None:
        self.closes.append((code, reason))


# --- registry --------------------------------------------------------------------------------


def test_only_a_socket_of_the_calls_own_profile_holds_it_open(tmp_path) -> None:
    registry = CallRegistry(slots=TICK_SLICES)
    live = live_call(tmp_path, 1, profile_id=7)
    registry.add_live(live)
    other, own = object(), object()
    registry.note_arriving(live.key, other, 8)
    assert not registry.arriving_for(live)
    registry.note_arriving(live.key, own, 7)
    assert registry.arriving_for(live)
    registry.note_arrived(live.key, own)
    assert not registry.arriving_for(live)
    registry.note_arrived(live.key, other)
    assert live.key not in registry.arriving  # no empty entries left behind
    live.pipeline.close()


def test_calls_by_profile_counts_live_calls_only(tmp_path) -> None:
    registry = CallRegistry(slots=TICK_SLICES)
    first, second = live_call(tmp_path, 1, profile_id=7), live_call(tmp_path, 2, profile_id=7)
    registry.add_live(first)
    registry.add_live(second)
    assert registry.calls_by_profile == {7: 2}
    registry.drop_live(first)
    registry.drop_live(first)  # twice: counted once
    assert registry.calls_by_profile == {7: 1}
    registry.drop_live(second)
    assert registry.calls_by_profile == {}
    assert registry.live == {}
    first.pipeline.close()
    second.pipeline.close()


# --- shedding --------------------------------------------------------------------------------


def test_shedding_by_open_sockets_and_by_loop_lag() -> None:
    shedding = LoadShedding(max_connections=3, shed_lag_ms=100)
    assert shedding.overloaded(2) is None
    assert shedding.overloaded(3) == "3 ingest sockets open (limit 3)"
    shedding.observe_lag(250)  # a rise counts at once
    assert shedding.overloaded(0) == "event loop 250 ms behind"
    shedding.observe_lag(0)  # a fall only gradually: one quiet tick does not reopen
    assert shedding.loop_lag_ms == pytest.approx(175)
    assert shedding.overloaded(0) is not None
    for _ in range(5):
        shedding.observe_lag(0)
    assert shedding.overloaded(0) is None


def test_no_lag_limit_never_sheds_for_lag() -> None:
    shedding = LoadShedding(max_connections=3, shed_lag_ms=0)
    shedding.observe_lag(10_000)
    assert shedding.overloaded(0) is None


# --- statistics batch ------------------------------------------------------------------------


@pytest.fixture
def stats_writes(monkeypatch) -> list[dict]:
    """The batch's database writes, recorded in the event loop (no database thread)."""
    writes: list[dict] = []

    def in_loop(func):
        async def call(**kwargs):
            return func(**kwargs)

        return call

    monkeypatch.setattr(stats_batch_module, "in_db_thread", in_loop)
    monkeypatch.setattr(
        stats_batch_module,
        "call_stats_update_many",
        lambda *, stats_by_call: writes.append(dict(stats_by_call)),
    )
    return writes


async def test_stats_of_one_call_are_merged_into_one_write_per_interval(stats_writes) -> None:
    tasks = TaskSet(asyncio.get_running_loop())
    spawned: list[asyncio.Task] = []

    def spawn(coroutine):
        spawned.append(tasks.spawn(coroutine))
        return spawned[-1]

    batch = StatsBatch(interval=10, spawn=spawn)
    start = batch._last + 10
    for part in range(3):  # one tick period in three slices; call 1 seen in two of them
        assert batch.slice_begin(start + part, part=part, parts=3)
        batch.add(1, {"seen": part})
        if part == 2:
            batch.add(2, {"seen": part})
        batch.slice_end()
        assert len(spawned) == (1 if part == 2 else 0)  # written after the last slice only
    assert not batch.slice_begin(start + 3, part=0, parts=3)  # the interval has not passed
    assert not batch.slice_begin(start + 9.9, part=0, parts=3)
    await asyncio.gather(*spawned)
    assert stats_writes == [{1: {"seen": 2}, 2: {"seen": 2}}]
    assert batch.slice_begin(start + 10, part=0, parts=3)  # the next interval


async def test_an_interval_without_calls_writes_nothing(stats_writes) -> None:
    spawned: list = []
    batch = StatsBatch(interval=0, spawn=spawned.append)
    assert batch.slice_begin(batch._last, part=0, parts=1)
    batch.slice_end()
    assert spawned == []


# --- events ----------------------------------------------------------------------------------


class RecordingLayer:
    """A shared channel layer (as Redis is): every call's events are listened to."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    async def group_send(self, group: str, message: dict) -> None:
        self.sent.append((group, message))


@pytest.fixture
def layer(monkeypatch) -> RecordingLayer:
    recording = RecordingLayer()
    monkeypatch.setattr(events_module, "get_channel_layer", lambda: recording)
    return recording


async def test_each_call_gets_one_progress_event_per_event_period(layer, tmp_path) -> None:
    runtime = IngestRuntime(ingest_config(events_hz=5))  # one event every 0.2 s
    calls = [live_call(tmp_path, i, call_pk=100 + i) for i in range(TICK_SLICES + 2)]
    unlisted = live_call(tmp_path, 99)  # no row yet: nobody can listen to it
    try:
        for live in [*calls, unlisted]:
            runtime.registry.add_live(live)
        for now in (501.0, 501.1, 501.19):  # three ticks within one period
            runtime.tick(now)
        await runtime.events._publisher
        groups = [group for group, _ in layer.sent]
        assert sorted(groups) == sorted(live.group for live in calls)
        runtime.tick(501.25)  # the next period
        await runtime.events._publisher
        assert len(layer.sent) == 2 * len(calls)
        _, message = layer.sent[-1]
        assert message["type"] == "call.event"
        assert message["payload"]["type"] == "call.progress"
        assert message["payload"]["call_id"] == calls[-1].call_pk
    finally:
        await runtime.shutdown()
        for live in [*calls, unlisted]:
            live.pipeline.close()


async def test_a_full_outbox_drops_new_progress_events(layer, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(events_module, "OUTBOX_LIMIT", 2)
    events = CallEvents(asyncio.get_running_loop(), events_hz=1)
    live = live_call(tmp_path, 1, call_pk=5)
    for n in range(3):
        events.publish_soon(live, {"type": "call.progress", "n": n})
    assert events.events_dropped == 1
    assert events._publisher is not None
    await events._publisher
    assert [message["payload"]["n"] for _, message in layer.sent] == [0, 1]  # in order
    live.pipeline.close()


# --- endings ---------------------------------------------------------------------------------


def endings_for(registry: CallRegistry) -> CallEndings:
    loop = asyncio.get_running_loop()
    events = CallEvents(loop, events_hz=0)
    transcripts = LiveTranscripts(None, publish=events.publish, spawn=TaskSet(loop).spawn)
    return CallEndings(registry=registry, events=events, transcripts=transcripts)


async def test_a_refused_call_closes_its_sockets_through_their_close(tmp_path) -> None:
    registry = CallRegistry(slots=TICK_SLICES)
    live = live_call(tmp_path, 1)
    registry.add_live(live)
    sockets = [RecordingSocket(), RecordingSocket()]
    live.connections.update(sockets)
    await endings_for(registry).discard(live, "call already completed")
    assert [s.closes for s in sockets] == [[(1008, "call already completed")]] * 2
    assert registry.live == {}
    assert live.ended.is_set()
    assert not live.pipeline.writer.path.exists()  # the refused recording is removed


async def test_a_socket_leaving_without_reason_leaves_its_call_waiting(tmp_path) -> None:
    registry = CallRegistry(slots=TICK_SLICES)
    live = live_call(tmp_path, 1)
    registry.add_live(live)
    socket = RecordingSocket()
    live.connections.add(socket)
    await endings_for(registry).detach(live, socket, feed=None, terminal_reason="", now=600.0)
    assert live.orphaned_since == 600.0  # a reconnect within the grace period continues it
    assert not live.finalizing
    assert socket.closes == []
    live.pipeline.close()
