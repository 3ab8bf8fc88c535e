"""The ingest on a real server (daphne, and the bare-websockets ingest server), driven by the
RingCX simulator over loopback."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest

from streaming.audio import mulaw
from streaming.audio.wav import HEADER_BYTES, wav_read_stereo
from streaming.tools.simulator import SimulationConfig, frame_payloads, simulate, tone_audio
from tests.streaming.ingest_server import IngestServer, ingest_server_env

pytestmark = pytest.mark.integration

LEGS = ("Participant", "Conference")


@pytest.fixture(params=["daphne", "websockets"])
def server(tmp_path, request):
    running = IngestServer(
        var_dir=tmp_path, server=request.param, env=ingest_server_env(tmp_path)
    ).setup()
    running.start()
    yield running
    running.stop()
    running.drop_database()


def expected_channel(call, audio, frames: int, leg: str) -> np.ndarray:
    """What the server must have recorded on this leg: each frame at its position, silence
    where the simulator withheld it or sent it too late to be placed."""
    planned = frame_payloads(audio.channel(leg), frames)
    placed = {
        f.sequence_id
        for f in call.sent_frames
        if f.perspective == leg and not f.duplicate and not f.late
    }
    return np.concatenate(
        [
            mulaw.decode(planned[i]) if (i + 1) in placed else np.zeros(160, dtype=np.int16)
            for i in range(frames)
        ]
    )


@pytest.mark.parametrize(
    "faults",
    [
        {
            "reorder_pct": 10,
            "reorder_depth": 4,
            "duplicate_pct": 5,
            "drop_pct": 3,
            "malformed_pct": 2,
        },
        {"split_perspectives": True, "reorder_pct": 5, "duplicate_pct": 5},
        {"late_start_ms": 400, "late_pct": 1, "drop_pct": 2},
    ],
    ids=["faults-one-socket", "two-sockets", "late-start-and-late-frames"],
)
def test_concurrent_calls_with_faults_are_recorded_sample_exact(server, faults) -> None:
    seconds = 3.0
    audio = tone_audio(seconds + 1, seed=7)
    report = asyncio.run(
        simulate(
            SimulationConfig(
                url=server.url,
                calls=4,
                duration=seconds,
                audio=audio,
                secret=server.secret,
                keep_sent_frames=True,
                seed=11,
                **faults,
            )
        )
    )
    assert not report.timed_out
    frames = report.frames_per_perspective
    for call in report.calls:
        assert all(c.outcome == "accepted" for c in call.connections), call.connections
        (record,) = server.calls(call.call_id)
        assert record["status"] == "completed", (record["end_reason"], server.output()[-3000:])
        recording = wav_read_stereo(record["recording_path"])
        stats = record["stream_stats"]["perspectives"]
        for channel, leg in enumerate(LEGS):
            expected = expected_channel(call, audio, frames, leg)
            offset = stats[leg]["offset_frames"] * 160
            if leg == "Conference" and faults.get("late_start_ms"):
                assert stats[leg]["offset_frames"] == round(faults["late_start_ms"] / 20)
            got = recording[offset : offset + len(expected), channel]
            # trailing frames never sent cannot be known; everything else must match exactly
            assert np.array_equal(got, expected[: len(got)]), f"{call.call_id} {leg}"
            assert len(got) >= len(expected) - 160 * 5
            sent = call.perspectives[leg]
            assert stats[leg]["duplicates"] == sent.duplicates_sent
        if faults.get("malformed_pct"):
            assert sum(record["stream_stats"]["errors"].values()) == sum(
                call.malformed_sent.values()
            )


def test_kill_9_mid_call_then_restart_recovers_a_playable_file(server, tmp_path) -> None:
    async def stream_until_killed() -> object:
        task = asyncio.create_task(
            simulate(
                SimulationConfig(
                    url=server.url,
                    calls=1,
                    duration=20,
                    secret=server.secret,
                    seed=3,
                    call_id_prefix="crash",
                    keep_sent_frames=True,
                    close_timeout=2,
                    deadline=60,
                )
            )
        )
        recordings = Path(tmp_path / "recordings")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # wait until ~2.5 s of audio is on disk
            files = list(recordings.rglob("*.wav"))
            if files and files[0].stat().st_size > HEADER_BYTES + 8000 * 4 * 2.5:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the recording never grew: " + server.output()[-2000:])
        server.kill()
        killed_at = time.time()
        return await task, killed_at

    report, killed_at = asyncio.run(stream_until_killed())
    (call,) = report.calls
    sent_before_kill = [
        f
        for f in call.sent_frames
        if f.perspective == "Participant"
        and not f.duplicate
        and report.started_at + f.offset <= killed_at
    ]
    (record,) = server.calls("crash-1")
    assert record["status"] == "live"  # nothing ran after the kill
    server.start()  # a new process: recovery runs before it listens
    (record,) = server.calls("crash-1")
    assert record["status"] == "incomplete"
    assert "recovered" in record["end_reason"]
    path = Path(record["recording_path"])
    recording = wav_read_stereo(path)  # trusting the header, as a player does
    assert path.stat().st_size == HEADER_BYTES + recording.shape[0] * 4
    recorded_frames = recording.shape[0] // 160
    assert record["duration_seconds"] == pytest.approx(recording.shape[0] / 8000, abs=0.01)
    # at most one second of what was sent before the kill is missing
    assert recorded_frames >= len(sent_before_kill) - 50, (recorded_frames, len(sent_before_kill))
    audio = tone_audio(20, seed=3)
    expected = np.concatenate(
        [mulaw.decode(p) for p in frame_payloads(audio.left, recorded_frames)]
    )
    assert np.array_equal(recording[: recorded_frames * 160, 0], expected)


@pytest.mark.parametrize("server_kind", ["daphne", "uvicorn", "websockets"])
def test_refusals_are_real_http_statuses(tmp_path, server_kind: str) -> None:
    """RingCX does not retry 4xx and retries 5xx: the statuses must be the real ones."""
    import websockets
    from websockets.exceptions import InvalidStatus

    running = IngestServer(
        var_dir=tmp_path,
        server=server_kind,
        env=ingest_server_env(tmp_path, INGEST_MAX_CONNECTIONS="1"),
    )
    running.setup().start()
    query = "?callId=h1&sessionId=1&productType=Queue&productId=1234&subaccountId=99990001"

    async def status_of(path: str, secret: str) -> int | None:
        try:
            async with websockets.connect(
                f"ws://127.0.0.1:{running.port}{path}{query}",
                additional_headers={"Authorization": f"Bearer {secret}"},
            ):
                return 101
        except InvalidStatus as exc:
            return exc.response.status_code

    async def scenario() -> tuple[int | None, ...]:
        bad_secret = await status_of("/", "wrong")
        wrong_path = await status_of("/somewhere", running.secret)
        async with websockets.connect(
            f"ws://127.0.0.1:{running.port}/{query}",
            additional_headers={"Authorization": f"Bearer {running.secret}"},
        ):
            overloaded = await status_of("/", running.secret)  # the one slot is taken
        return bad_secret, wrong_path, overloaded

    try:
        assert asyncio.run(scenario()) == (403, 404, 503)
    finally:
        running.stop()
        running.drop_database()


@pytest.mark.parametrize("server_kind", ["daphne", "uvicorn", "websockets"])
def test_protocol_close_codes_reach_the_client(tmp_path, server_kind: str) -> None:
    """Regression: daphne's WebSocket library dropped server closes with codes like 1008."""
    import json

    import websockets
    from websockets.exceptions import ConnectionClosed

    running = IngestServer(
        var_dir=tmp_path,
        server=server_kind,
        env=ingest_server_env(tmp_path, INGEST_MAX_MESSAGE_BYTES="4096"),
    )
    running.setup().start()
    query = "?callId=k1&sessionId=1&productType=Queue&productId=1234&subaccountId=99990001"
    start = json.dumps(
        {
            "event": "Start",
            "metadata": {"callId": "k1", "sessionId": 1, "productType": "Queue", "productId": 1234},
        }
    )

    async def close_of(secret: str | None, frames: list[str]) -> tuple[int | None, str]:
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        async with websockets.connect(
            f"ws://127.0.0.1:{running.port}/{query}", additional_headers=headers, max_size=None
        ) as ws:
            for frame in frames:
                await ws.send(frame)
            try:
                await asyncio.wait_for(ws.recv(), 10)
            except ConnectionClosed as closed:
                return (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else (None, "")
        return None, "not closed"

    try:
        assert asyncio.run(close_of(None, [start])) == (1008, "missing secret")
        too_big = json.dumps(
            {"event": "Media", "perspective": "Participant", "sequenceId": "1", "media": "A" * 8000}
        )
        code, reason = asyncio.run(close_of(running.secret, [start, too_big]))
        assert (code, reason) == (1009, "message larger than 4096 bytes")
    finally:
        running.stop()
        running.drop_database()
