"""Hostile HTTP clients on every server we ship (daphne, uvicorn and the ingest's own), on
loopback: requests never finished are closed within INGEST_HANDSHAKE_TIMEOUT_SECONDS, and
nothing a client sends ends up in the response's status line or headers."""

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


async def _raw_response(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    try:
        return await asyncio.wait_for(reader.read(), timeout=30)  # until the server closes
    finally:
        writer.close()


@pytest.mark.parametrize(
    "query",
    [
        "productType=Queue&productId=999%0D%0AX-Injected:%20yes&subaccountId=1",
        "productType=Queue&productId=1234&subaccountId=1%0D%0AX-Injected:%20yes",
    ],
)
def test_a_refusal_never_writes_client_text_into_the_status_line(server, query) -> None:
    """Regression: daphne sent the refusal reason (which quoted the query) as the HTTP reason
    phrase, so a CR LF in a parameter added headers of the client's choosing."""
    request = (
        f"GET /?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    response = asyncio.run(_raw_response(server.port, request))
    head = response.split(b"\r\n\r\n", 1)[0]
    assert head.startswith(b"HTTP/1.1 403 "), head
    assert b"x-injected" not in head.lower(), head
    assert all(32 <= byte < 127 for byte in head.replace(b"\r\n", b"")), head


def _rss_kib(pid: int) -> int:
    """Resident memory of the server process and its children (daphne runs in one)."""
    total = 0
    for status in [f"/proc/{pid}/status"] + [
        f"/proc/{child}/status"
        for child in open(f"/proc/{pid}/task/{pid}/children").read().split()  # noqa: SIM115
    ]:
        for line in open(status).read().splitlines():  # noqa: SIM115
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


async def _ping_flood(port: int, megabytes: int, *, seconds: float) -> int:
    """Open the ingest socket, then send pings and never read the pongs: how many bytes the
    server let in within ``seconds``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"GET /?callId=flood&productType=Queue&productId=1234&subaccountId=99990001 HTTP/1.1\r\n"
        b"Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    assert head.startswith(b"HTTP/1.1 101"), head
    # a masked PING with 125 bytes of payload (the most a control frame may carry)
    ping = bytes([0x89, 0x80 | 125]) + b"\x00\x00\x00\x00" + b"p" * 125
    batch = ping * 1000
    sent = 0
    deadline = asyncio.get_running_loop().time() + seconds
    try:
        while sent < megabytes * 1_000_000:
            writer.write(batch)
            remaining = deadline - asyncio.get_running_loop().time()
            await asyncio.wait_for(writer.drain(), max(0.01, remaining))
            sent += len(batch)
    except (TimeoutError, ConnectionError):
        pass
    finally:
        writer.transport.abort()
    return sent


def test_a_client_that_never_reads_cannot_fill_the_server_memory(server) -> None:
    """Pings are answered with pongs; a client that sends pings and never reads them must be
    held back (the server stops reading while its replies are not taken), not buffered.
    Regression: the ingest's own server took all of it (166 MB in 15 s) and buffered the
    pongs."""
    before = _rss_kib(server.process.pid)
    sent = asyncio.run(_ping_flood(server.port, 300, seconds=20))
    grown_mb = (_rss_kib(server.process.pid) - before) / 1024
    assert sent < 100_000_000, f"the server took {sent / 1e6:.0f} MB of pings it could not answer"
    assert grown_mb < 100, f"the server grew by {grown_mb:.0f} MB"
