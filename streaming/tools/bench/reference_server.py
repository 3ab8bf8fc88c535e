"""A minimal RingCX ingest on the bare ``websockets`` library: the benchmark's ceiling.

It does the same per-frame work as the real ingest (parse JSON, base64-decode, mu-law to
linear through a table, append to an open file per call and perspective) and measures lag
the same way (``sentAt`` → written, whole milliseconds), with nothing else: no framework, no
reordering, no database. What it sustains on one core is what Python can do here, so the
real ingest is judged as a fraction of it, measured in the same run.

It doubles as a protocol probe for the simulator's tests: it counts frames, duplicates,
out-of-order arrivals, malformed frames by kind, Stops, sockets and where the secret came
from, and writes all of it as JSON to ``--stats-file`` when stopped with SIGTERM or SIGINT.

    python -m streaming.tools.bench.reference_server --port 8765 --out /tmp/ref --stats-file s.json
"""

from __future__ import annotations

import argparse
import asyncio
import binascii
import gc
import hmac
import json
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qs, urlsplit

import numpy as np
from websockets.asyncio.server import Request, Response, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from streaming.tools.simulator import MULAW_DECODE_TABLE, PERSPECTIVES, LagHistogram

CLOSE_BAD_SECRET = 4403
MAX_SEQUENCE = 50_000_000  # over 11 days of 20 ms frames on one perspective


@dataclass
class PerspectiveStats:
    frames_received: int = 0  # distinct sequence ids written
    duplicates: int = 0
    out_of_order: int = 0  # arrived after a higher sequence id of the same perspective
    min_sequence: int | None = None
    max_sequence: int | None = None
    bytes: int = 0
    # One byte per sequence id: a set would cost ~60 bytes a frame and skew RSS per call.
    seen: bytearray = field(default_factory=bytearray, repr=False)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("seen")
        return data


@dataclass
class ConnectionStats:
    perspectives: dict[str, dict[str, int | None]] = field(default_factory=dict)  # first/last seq
    query: dict[str, str] = field(default_factory=dict)
    presented_in: str | None = None  # where the secret came: header, query, start, connected
    starts: int = 0
    stops: int = 0
    close_code: int | None = None
    media: int = 0


@dataclass
class CallStats:
    perspectives: dict[str, PerspectiveStats] = field(default_factory=dict)
    connections: list[ConnectionStats] = field(default_factory=list)
    malformed: dict[str, int] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def perspective(self, name: str) -> PerspectiveStats:
        stats = self.perspectives.get(name)
        if stats is None:
            stats = self.perspectives[name] = PerspectiveStats()
        return stats

    def to_dict(self) -> dict[str, Any]:
        return {
            "perspectives": {k: v.to_dict() for k, v in self.perspectives.items()},
            "connections": [asdict(c) for c in self.connections],
            "malformed": dict(self.malformed),
            "metadata": self.metadata,
        }


class ReferenceIngest:
    """The server's state: per-call counters, the lag histogram and where files go."""

    def __init__(self, *, out_dir: Path, secret: str | None = None) -> None:
        self.out_dir = out_dir
        self.secret = secret
        self.calls: dict[str, CallStats] = {}
        self.lag = LagHistogram()
        self.first_frame_at: float | None = None
        self.last_frame_at: float | None = None
        self.connections = 0
        self.rejected = 0
        self.anonymous = 0

    # The handshake: only when a secret is configured, and only for where it can be checked.
    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.secret is None:
            return None
        query = parse_qs(urlsplit(request.path).query)
        presented = request.headers.get("Authorization", "")
        if presented.startswith("Bearer "):
            presented = presented[len("Bearer ") :]
        elif "secret" in query:
            presented = query["secret"][0]
        else:
            return None  # it may come in the Connected or Start message
        if hmac.compare_digest(presented.encode(), self.secret.encode()):
            return None
        self.rejected += 1
        return connection.respond(HTTPStatus.FORBIDDEN, "bad secret\n")

    async def handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        path = ws.request.path
        query = {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}
        call_id = query.get("callId")
        if not call_id:
            self.anonymous += 1
            call_id = f"anonymous-{self.anonymous}"
        call = self.calls.setdefault(call_id, CallStats())
        connection = ConnectionStats(query={k: v for k, v in query.items() if k != "secret"})
        if "secret" in query:
            connection.presented_in = "query"
        elif ws.request.headers.get("Authorization"):
            connection.presented_in = "header"
        call.connections.append(connection)
        self.connections += 1
        files: dict[str, BinaryIO] = {}
        try:
            await self._receive(ws, call_id, call, connection, files)
        finally:
            for handle in files.values():
                handle.close()
            connection.close_code = ws.close_code

    async def _receive(
        self,
        ws: ServerConnection,
        call_id: str,
        call: CallStats,
        connection: ConnectionStats,
        files: dict[str, BinaryIO],
    ) -> None:
        malformed = call.malformed
        lag = self.lag
        table = MULAW_DECODE_TABLE
        closing: asyncio.Task | None = None
        try:
            async for message in ws:
                if closing is not None:
                    continue  # refused: read on only so the closing handshake can complete
                try:
                    event = json.loads(message)
                    kind = event["event"]
                except (ValueError, TypeError, KeyError):
                    malformed["invalid_json"] = malformed.get("invalid_json", 0) + 1
                    continue
                if kind == "Media":
                    perspective = event.get("perspective")
                    sequence_text = event.get("sequenceId")
                    media = event.get("media")
                    if (
                        perspective not in PERSPECTIVES
                        or not isinstance(sequence_text, str | int)
                        or not isinstance(media, str)
                    ):
                        malformed["wrong_types"] = malformed.get("wrong_types", 0) + 1
                        continue
                    try:
                        sequence = int(sequence_text)
                    except ValueError:
                        malformed["wrong_types"] = malformed.get("wrong_types", 0) + 1
                        continue
                    try:
                        payload = binascii.a2b_base64(media, strict_mode=True)
                    except binascii.Error:
                        malformed["bad_base64"] = malformed.get("bad_base64", 0) + 1
                        continue
                    if sequence < 0:
                        malformed["bad_sequence"] = malformed.get("bad_sequence", 0) + 1
                        continue
                    stats = call.perspectives.get(perspective) or call.perspective(perspective)
                    connection.media += 1
                    seen = stats.seen
                    if sequence >= len(seen):
                        if sequence > MAX_SEQUENCE:
                            malformed["bad_sequence"] = malformed.get("bad_sequence", 0) + 1
                            continue
                        seen.extend(bytes(sequence + 1 - len(seen) + 4096))
                    if seen[sequence]:
                        stats.duplicates += 1
                        continue
                    seen[sequence] = 1
                    if stats.max_sequence is not None and sequence < stats.max_sequence:
                        stats.out_of_order += 1
                    if stats.max_sequence is None or sequence > stats.max_sequence:
                        stats.max_sequence = sequence
                    if stats.min_sequence is None or sequence < stats.min_sequence:
                        stats.min_sequence = sequence
                    bounds = connection.perspectives.get(perspective)
                    if bounds is None:
                        connection.perspectives[perspective] = {"first": sequence, "last": sequence}
                    else:
                        bounds["last"] = sequence
                    handle = files.get(perspective)
                    if handle is None:
                        handle = files[perspective] = _open_track(
                            self.out_dir, call_id, perspective
                        )
                    handle.write(table[np.frombuffer(payload, np.uint8)].tobytes())
                    stats.frames_received += 1
                    stats.bytes += len(payload)
                    now = time.time()
                    sent_at = event.get("sentAt")
                    if type(sent_at) is float:
                        lag.add((now - sent_at) * 1000.0)
                    if self.first_frame_at is None:
                        self.first_frame_at = now
                    self.last_frame_at = now
                elif kind == "Start":
                    connection.starts += 1
                    metadata = event.get("metadata") or {}
                    if isinstance(metadata, dict):
                        call.metadata = {k: v for k, v in metadata.items() if k != "secret"}
                        if "secret" in metadata:
                            connection.presented_in = "start"
                            closing = self._refuse_bad_secret(ws, metadata["secret"])
                elif kind == "Stop":
                    connection.stops += 1
                elif kind == "Connected":
                    if "secret" in event:
                        connection.presented_in = "connected"
                        closing = self._refuse_bad_secret(ws, event["secret"])
                else:
                    malformed["unknown_event"] = malformed.get("unknown_event", 0) + 1
        except ConnectionClosed:
            pass
        finally:
            if closing is not None:
                await closing

    def _refuse_bad_secret(self, ws: ServerConnection, presented: Any) -> asyncio.Task | None:
        """Start closing with 4403 if the secret is wrong; ``None`` if it is right."""
        if self.secret is None or (
            isinstance(presented, str)
            and hmac.compare_digest(presented.encode(), self.secret.encode())
        ):
            return None
        self.rejected += 1
        return asyncio.create_task(ws.close(CLOSE_BAD_SECRET, "bad secret"))

    def summary(self) -> dict[str, Any]:
        totals: dict[str, int] = {"frames_received": 0, "duplicates": 0, "out_of_order": 0}
        for call in self.calls.values():
            for stats in call.perspectives.values():
                for key in totals:
                    totals[key] += getattr(stats, key)
        return {
            "server": "reference",
            "pid": os.getpid(),
            "connections": self.connections,
            "rejected": self.rejected,
            "first_frame_at": self.first_frame_at,
            "last_frame_at": self.last_frame_at,
            "totals": totals,
            "lag_ms": self.lag.to_dict(),
            "calls": {call_id: call.to_dict() for call_id, call in self.calls.items()},
        }


def track_path(out_dir: Path, call_id: str, perspective: str) -> Path:
    """Where one call's perspective goes: raw 16-bit little-endian PCM, mono, 8 kHz."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in call_id)[:120]
    return out_dir / f"{safe}-{perspective}.pcm"


def _open_track(out_dir: Path, call_id: str, perspective: str) -> BinaryIO:
    # Append: a reconnected or split socket adds to the same file. Opened once per socket.
    return open(track_path(out_dir, call_id, perspective), "ab")


async def run(
    *, host: str, port: int, out_dir: Path, stats_file: Path | None, secret: str | None
) -> None:
    ingest = ReferenceIngest(out_dir=out_dir, secret=secret)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with serve(
        ingest.handle,
        host,
        port,
        process_request=ingest.process_request,
        compression=None,
        ping_interval=None,
        max_size=2**16,
        backlog=1024,
    ) as server:
        gc.collect()
        gc.freeze()  # as the real ingest does: no full-collection pauses over start-up objects
        print(f"reference ingest listening on ws://{host}:{port}/ (pid {os.getpid()})", flush=True)
        await stop.wait()
        # Stop accepting, let every handler read what its socket already delivered, then report.
        server.close(close_connections=False)
        try:
            await asyncio.wait_for(server.wait_closed(), 30)
        except TimeoutError:
            server.close(close_connections=True)
            await server.wait_closed()
    if stats_file is not None:
        temporary = stats_file.with_suffix(stats_file.suffix + ".tmp")
        temporary.write_text(json.dumps(ingest.summary()))
        temporary.replace(stats_file)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True, help="directory for the .pcm files")
    parser.add_argument("--stats-file", type=Path, help="JSON summary written on SIGTERM/SIGINT")
    parser.add_argument(
        "--secret",
        default=os.environ.get("REFERENCE_SECRET"),
        help="require this secret (header, query, Connected or Start); default: accept all",
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    asyncio.run(
        run(
            host=args.host,
            port=args.port,
            out_dir=args.out,
            stats_file=args.stats_file,
            secret=args.secret,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
