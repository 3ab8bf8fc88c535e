"""The ingest's own WebSocket server (``--server websockets``) on loopback: HTTP answers,
fragmented messages, pings, and messages that arrive while Start is still being handled."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import socket

import httpx
import numpy as np
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from streaming.audio import mulaw
from streaming.audio.wav import wav_read_stereo
from tests.helpers import media_message
from tests.streaming.ingest_server import IngestServer, ingest_server_env

pytestmark = pytest.mark.integration

PARTICIPANT, CONFERENCE = "Participant", "Conference"
LEGS = (PARTICIPANT, CONFERENCE)  # agent left, caller right
FRAME = 160
QUERY = "?callId={call}&sessionId=1&productType=Queue&productId=1234&subaccountId=99990001"
CONNECTED = json.dumps({"event": "Connected", "protocol": "AgentSession", "version": "1.0.0"})


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One websockets ingest server for the module; every test streams its own call id."""
    var_dir = tmp_path_factory.mktemp("ingest-ws")
    running = IngestServer(var_dir=var_dir, server="websockets", env=ingest_server_env(var_dir))
    running.setup().start()
    yield running
    running.stop()
    running.drop_database()


def start_message(call: str, *, secret: str | None = None) -> str:
    metadata = {
        "callId": call,
        "sessionId": 1,
        "productType": "Queue",
        "productId": 1234,
        "subaccountId": "99990001",
        "contentType": "audio/x-mulaw",
        "sampleRateHertz": 8000,
    }
    if secret is not None:
        metadata["secret"] = secret
    return json.dumps({"event": "Start", "metadata": metadata})


def stop(leg: str) -> str:
    return json.dumps({"event": "Stop", "perspective": leg, "metadata": {}})


def fragments(text: str, parts: int = 3) -> list[str]:
    """``text`` in ``parts`` pieces, cut inside the JSON (a client sends TEXT + CONT frames)."""
    cuts = [len(text) * i // parts for i in range(parts + 1)]
    return [text[a:b] for a, b in itertools.pairwise(cuts)]


def random_frames(count: int, seed: int) -> dict[str, list[bytes]]:
    rng = random.Random(seed)
    return {leg: [rng.randbytes(FRAME) for _ in range(count)] for leg in LEGS}


def expected_recording(frames: dict[str, list[bytes]]) -> np.ndarray:
    """Each leg's frames back to back from sample 0: agent left, caller right."""
    return np.stack([np.concatenate([mulaw.decode(p) for p in frames[leg]]) for leg in LEGS], 1)


def connect(server: IngestServer, call: str, *, header_secret: bool = True):
    headers = {"Authorization": f"Bearer {server.secret}"} if header_secret else {}
    return websockets.connect(
        f"ws://127.0.0.1:{server.port}/{QUERY.format(call=call)}",
        additional_headers=headers,
        ping_interval=None,
        open_timeout=30,
    )


async def server_close(ws) -> tuple[int | None, str]:
    """Wait for the server to close the socket (the ingest sends no other messages)."""
    try:
        message = await asyncio.wait_for(ws.recv(), 30)
    except ConnectionClosed as closed:
        return (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else (None, "")
    raise AssertionError(f"the ingest sent a message: {message!r}")


def finished_call(server: IngestServer, call: str) -> tuple[dict, np.ndarray]:
    """The call's final record (written before the server's close) and its recording."""
    (record,) = server.calls(call)
    assert record["status"] == "completed", (record["end_reason"], server.output()[-3000:])
    return record, wav_read_stereo(record["recording_path"])


def assert_every_frame_in_order(record: dict, count: int) -> None:
    assert record["stream_stats"]["errors"] == {}
    for leg in LEGS:
        stats = record["stream_stats"]["perspectives"][leg]
        assert stats["offset_frames"] == 0, leg
        assert (stats["frames_received"], stats["frames_written"]) == (count, count), leg
        assert stats["reordered"] == 0, leg  # the server handed them over in arrival order
        assert stats["duplicates"] == stats["late_dropped"] == 0, leg
        assert stats["gaps_filled_frames"] == 0, leg


# --- plain HTTP ---------------------------------------------------------------------------------


def test_healthz_answers_ok(server) -> None:
    response = httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=10)
    assert response.status_code == 200
    assert response.text == "ok\n"


def test_plain_get_without_upgrade_answers_426(server) -> None:
    response = httpx.get(f"http://127.0.0.1:{server.port}/", timeout=10)
    assert response.status_code == 426
    assert "WebSocket" in response.text
    assert response.headers["connection"] == "close"


def test_broken_upgrade_request_gets_an_http_error_not_a_hang(server) -> None:
    """An Upgrade without Sec-WebSocket-Key is answered (400) and the connection closed."""
    request = (
        f"GET /{QUERY.format(call='broken')} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request.encode())
        answer = b""
        while chunk := sock.recv(4096):  # the server closes after its answer
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]


# --- messages -----------------------------------------------------------------------------------


def test_fragmented_messages_are_reassembled_sample_exact(server) -> None:
    call, count = "frag-1", 24
    frames = random_frames(count, seed=21)

    async def fragments_across_reads(text: str, ws):
        """One message whose fragments reach the server in separate reads: between them a
        ping, whose pong proves the server has read everything sent before it."""
        for piece in fragments(text, 4):
            yield piece
            await asyncio.wait_for(await ws.ping(), 10)

    async def scenario() -> tuple[int | None, str]:
        async with connect(server, call) as ws:
            await ws.send(CONNECTED)
            await ws.send(fragments(start_message(call)))
            for index in range(count):
                for leg in LEGS:
                    text = media_message(leg, index + 1, frames[leg][index])
                    if index == 10 and leg == CONFERENCE:
                        await ws.send(fragments_across_reads(text, ws))
                    elif index % 3 == 1:
                        await ws.send(fragments(text, 3 + index % 4))
                    else:
                        await ws.send(text)
            await ws.send(fragments(stop(PARTICIPANT), 2))
            await ws.send(stop(CONFERENCE))
            return await server_close(ws)

    assert asyncio.run(scenario()) == (1000, "every perspective stopped")
    record, recording = finished_call(server, call)
    assert_every_frame_in_order(record, count)
    assert np.array_equal(recording, expected_recording(frames))


def test_a_fragmented_message_over_the_limit_is_closed_with_1009(server) -> None:
    """The limit applies to the reassembled message, not to each fragment (test_ingest_live
    covers a single-frame message over the limit)."""
    call = "frag-big"
    big = json.dumps(
        {"event": "Media", "perspective": PARTICIPANT, "sequenceId": "1", "media": "A" * 70_000}
    )

    async def scenario() -> tuple[int | None, str]:
        async with connect(server, call) as ws:
            await ws.send(start_message(call))
            await ws.send(fragments(big, 10))  # each fragment far below the 64 KiB limit
            return await server_close(ws)

    assert asyncio.run(scenario()) == (1009, "message larger than 65536 bytes")


def test_pings_are_answered_while_a_call_streams(server) -> None:
    call, count = "ping-1", 30
    frames = random_frames(count, seed=22)

    async def scenario() -> tuple[list[float], tuple[int | None, str]]:
        latencies = []
        async with connect(server, call, header_secret=False) as ws:
            await ws.send(CONNECTED)
            # the secret comes in Start: the server checks it in the database meanwhile
            await ws.send(start_message(call, secret=server.secret))
            latencies.append(await asyncio.wait_for(await ws.ping(), 10))
            for index in range(count):
                for leg in LEGS:
                    await ws.send(media_message(leg, index + 1, frames[leg][index]))
                if index in (1, 15, 29):
                    latencies.append(await asyncio.wait_for(await ws.ping(b"mid-call"), 10))
            await ws.send(stop(PARTICIPANT))
            await ws.send(stop(CONFERENCE))
            return latencies, await server_close(ws)

    latencies, closed = asyncio.run(scenario())
    assert len(latencies) == 4
    assert all(latency >= 0 for latency in latencies)
    assert closed == (1000, "every perspective stopped")
    record, recording = finished_call(server, call)
    assert_every_frame_in_order(record, count)
    assert np.array_equal(recording, expected_recording(frames))


def test_messages_sent_before_start_is_handled_keep_their_order(server) -> None:
    """Start waits for the database (its secret is checked there): everything sent right
    behind it waits too, and then reaches the ingest complete and in order, Stops last."""
    call, count = "burst-1", 50
    frames = random_frames(count, seed=23)
    messages = [CONNECTED, start_message(call, secret=server.secret)]
    messages += [
        media_message(leg, index + 1, frames[leg][index]) for index in range(count) for leg in LEGS
    ]
    messages += [stop(PARTICIPANT), stop(CONFERENCE)]

    async def scenario() -> tuple[int | None, str]:
        async with connect(server, call, header_secret=False) as ws:
            for message in messages:  # no waiting on anything in between
                await ws.send(message)
            return await server_close(ws)

    assert asyncio.run(scenario()) == (1000, "every perspective stopped")
    record, recording = finished_call(server, call)
    assert_every_frame_in_order(record, count)
    for leg in LEGS:
        stats = record["stream_stats"]["perspectives"][leg]
        assert (stats["first_sequence"], stats["last_sequence"]) == (1, count)
    assert np.array_equal(recording, expected_recording(frames))
