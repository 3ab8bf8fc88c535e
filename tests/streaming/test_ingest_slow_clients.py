"""Clients that never finish their HTTP request, on every server we ship (daphne, uvicorn and
the ingest's own), on loopback: each is closed within INGEST_HANDSHAKE_TIMEOUT_SECONDS."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.streaming.ingest_server import IngestServer, ingest_server_env

pytestmark = pytest.mark.integration

BOUND = 2.0  # INGEST_HANDSHAKE_TIMEOUT_SECONDS for these servers
MARGIN = 3.0  # scheduling on a busy 2-core machine
SOCKETS = 100
HALF_REQUEST = (
    b"GET /?callId=slow&productType=Queue&productId=1234 HTTP/1.1\r\n"
    b"Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
)


@pytest.fixture(scope="module", params=["daphne", "uvicorn", "websockets"])
def server(tmp_path_factory, request):
    var_dir = tmp_path_factory.mktemp(f"slow-{request.param}")
    env = ingest_server_env(var_dir, INGEST_HANDSHAKE_TIMEOUT_SECONDS=str(BOUND))
    running = IngestServer(var_dir=var_dir, server=request.param, env=env).setup().start()
    yield running
    running.stop()
    running.drop_database()


async def _closed_after(port: int, *, trickle: bool) -> list[float]:
    """Open SOCKETS connections that send half a request (and, with ``trickle``, a byte of a
    header every 0.3 s, which resets an idle timeout); the seconds until each was closed."""
    loop = asyncio.get_running_loop()
    connections = []
    for _ in range(SOCKETS):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HALF_REQUEST + (b"X-Slow: " if trickle else b""))
        connections.append((reader, writer))
    started = loop.time()

    async def until_closed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> float:
        try:
            while True:
                try:
                    data = await asyncio.wait_for(reader.read(4096), 0.3 if trickle else None)
                except TimeoutError:
                    writer.write(b"x")  # still sending: never idle
                    continue
                if not data:  # EOF: the server closed it
                    return loop.time() - started
        except (ConnectionResetError, BrokenPipeError):  # aborted: closed too
            return loop.time() - started
        finally:
            writer.close()

    try:
        return await asyncio.wait_for(
            asyncio.gather(*(until_closed(r, w) for r, w in connections)),
            timeout=BOUND + MARGIN + 10,
        )
    finally:
        for _, writer in connections:
            writer.close()


@pytest.mark.parametrize("trickle", [False, True], ids=["stalled", "trickling"])
def test_half_sent_requests_are_closed_within_the_bound(server, trickle) -> None:
    """Regression: on daphne (and uvicorn), sockets that sent half an HTTP request stayed open
    indefinitely (250 of 250 still open after 60 s); a trickle reset Twisted's idle timeout."""
    closed = asyncio.run(_closed_after(server.port, trickle=trickle))
    assert len(closed) == SOCKETS
    assert max(closed) < BOUND + MARGIN, sorted(closed)[-5:]
    # and the server still answers
    assert httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=10).status_code == 200
