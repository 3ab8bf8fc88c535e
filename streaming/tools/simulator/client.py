"""The client that streams simulated calls: ``simulate(config)`` opens each call's sockets,
sends Connected, Start, the planned Media frames (paced in real time or as a flood) and the
Stops, and reports what it sent and how each socket ended. Never raises for what the server
does: refusals, failures and closes are in the report.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import secrets
import sys
import time
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import urlencode, urlsplit, urlunsplit

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from streaming.audio.lag import LagHistogram

from .audio import (
    FRAME_SECONDS,
    PERSPECTIVES,
    SAMPLE_RATE,
    StereoAudio,
    frame_payloads,
    load_wav,
    tone_audio,
)
from .config import MALFORMED_KINDS, SimulationConfig
from .plan import (
    DUPLICATE,
    LATE,
    MALFORMED,
    MEDIA,
    REORDERED,
    STOP,
    SocketPlan,
    malformed_text,
    plan_call,
)
from .report import CallReport, ConnectionReport, PerspectiveReport, SentFrame, SimulationReport


def _utc_now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# --- Running -----------------------------------------------------------------------------------


class _Run:
    """State shared by every call of one simulation."""

    def __init__(self, config: SimulationConfig, audio: StereoAudio, frames: int, seed: int):
        self.config = config
        self.frames = frames
        self.seed = seed
        self.payloads = [frame_payloads(audio.channel(p), frames) for p in PERSPECTIVES]
        self.encoded = [[base64.b64encode(f).decode("ascii") for f in p] for p in self.payloads]
        self.prefixes = [
            '{"event":"Media","perspective":"' + p + '","sequenceId":"' for p in PERSPECTIVES
        ]
        self.send_lag = LagHistogram()
        self.first_media_at: float | None = None
        self.last_media_at: float | None = None
        # (wall, process time) at the first Media and about the last: was the simulator itself
        # the bottleneck?
        self.first_media_cpu = self.last_media_cpu = (0.0, 0.0)
        self.media_sent = 0
        self.calls_live = 0

    def media_cpu(self) -> float | None:
        wall = self.last_media_cpu[0] - self.first_media_cpu[0]
        if self.first_media_at is None or wall < 0.5:
            return None
        return round((self.last_media_cpu[1] - self.first_media_cpu[1]) / wall, 3)


class _CallRun:
    def __init__(self, run: _Run, index: int, call_id: str):
        config = run.config
        self.run = run
        self.config = config
        self.index = index
        self.call_id = call_id
        self.rng = np.random.default_rng([run.seed, index])
        self.report = CallReport(
            call_id=call_id,
            session_id=config.session_id,
            perspectives={p: PerspectiveReport(frames_planned=run.frames) for p in PERSPECTIVES},
            sent_frames=[] if config.keep_sent_frames else None,
        )
        self.ani = config.ani or f"555{(7_000_000 + index) % 10_000_000:07d}"
        self.agent_id = config.agent_id + index
        self.metadata: dict[str, Any] = {
            "callId": call_id,
            "sessionId": config.session_id,
            "ani": self.ani,
            "dnis": config.dnis,
            "accountId": config.account_id,
            "subaccountId": config.sub_account,
            "rcAccountId": config.rc_account_id,
            "agentId": self.agent_id,
            "productType": config.product_type,
            "productId": config.product_id,
            "contentType": "audio/x-mulaw",
            "sampleRateHertz": SAMPLE_RATE,
        }

    def handshake(self) -> tuple[str, dict[str, str]]:
        config = self.config
        params = {
            "callId": self.call_id,
            "sessionId": config.session_id,
            "ani": self.ani,
            "dnis": config.dnis,
            "accountId": config.account_id,
            "subaccountId": config.sub_account,
            "rcAccountId": config.rc_account_id,
            "agentId": str(self.agent_id),
            "productType": config.product_type,
            "productId": str(config.product_id),
        }
        headers: dict[str, str] = {}
        place = config.secret_in if config.secret is not None else "none"
        if place == "query" and config.secret is not None:
            params["secret"] = config.secret
        if place == "header":
            headers["Authorization"] = f"Bearer {config.secret}"
        parts = urlsplit(self.config.url)
        query = "&".join(q for q in (parts.query, urlencode(params)) if q)
        return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, "")), headers

    def opening_messages(self) -> list[str]:
        connected: dict[str, Any] = {
            "event": "Connected",
            "protocol": "AgentSession",
            "version": "1.0.0",
        }
        metadata = dict(self.metadata)
        place = self.config.secret_in if self.config.secret is not None else "none"
        if place == "connected":
            connected["secret"] = self.config.secret
        if place == "start":
            metadata["secret"] = self.config.secret
        return [json.dumps(connected), json.dumps({"event": "Start", "metadata": metadata})]

    def stop_message(self) -> str:
        duration = round(self.run.frames * FRAME_SECONDS, 3)
        return json.dumps(
            {"event": "Stop", "metadata": {"duration": duration, "end_time": _utc_now_iso()}}
        )

    async def execute(self) -> None:
        plans, dropped = plan_call(self.config, self.run.frames, self.rng)
        for p, count in enumerate(dropped):
            self.report.perspectives[PERSPECTIVES[p]].frames_dropped = count
        self.run.calls_live += 1
        try:
            await asyncio.gather(*(_SocketRun(self, plan).execute() for plan in plans))
        finally:
            self.run.calls_live -= 1


class _SocketRun:
    def __init__(self, call: _CallRun, plan: SocketPlan):
        self.call = call
        self.plan = plan
        self.run = call.run
        self.config = call.config
        self.position = 0
        self.ws: ClientConnection | None = None
        self.connection: ConnectionReport | None = None
        self.reader: asyncio.Task | None = None

    async def _open(self, attempt: int) -> bool:
        """Connect and send Connected + Start; a refused or failed handshake is recorded."""
        names = [PERSPECTIVES[p] for p in self.plan.perspectives]
        report = ConnectionReport(perspectives=names, attempt=attempt)
        self.call.report.connections.append(report)
        self.connection = report
        url, headers = self.call.handshake()
        try:
            self.ws = await connect(
                url,
                additional_headers=headers,
                open_timeout=self.config.connect_timeout,
                close_timeout=self.config.close_timeout,
                ping_interval=None,
                compression=None,
                user_agent_header="ringadmin-simulator",
            )
        except InvalidStatus as exc:
            report.outcome = "rejected"
            report.status_code = exc.response.status_code
            report.error = str(exc)
            return False
        except (InvalidHandshake, InvalidURI, OSError, TimeoutError) as exc:
            report.outcome = "failed"
            report.error = f"{type(exc).__name__}: {exc}"
            return False
        report.outcome = "accepted"
        self.reader = asyncio.create_task(self._drain_incoming(self.ws, report))
        try:
            for message in self.call.opening_messages():
                await self.ws.send(message)
                report.messages_sent += 1
        except ConnectionClosed as exc:
            self._closed_by_server(exc)
            return False
        return True

    @staticmethod
    async def _drain_incoming(ws: ClientConnection, report: ConnectionReport) -> None:
        """Read whatever the server says, so its pings and close frames are handled."""
        with contextlib.suppress(ConnectionClosed):
            async for _ in ws:
                report.messages_received += 1

    def _closed_by_server(self, exc: ConnectionClosed) -> None:
        report = self.connection
        assert report is not None
        received = exc.rcvd
        report.closed_by = "server" if received is not None else "network"
        report.close_code = received.code if received is not None else 1006
        report.close_reason = received.reason if received is not None else ""

    async def _close(self, *, drop: bool) -> None:
        """Close cleanly (code 1000), or drop: end TCP with no close frame once data is out."""
        ws, report = self.ws, self.connection
        assert ws is not None
        assert report is not None
        if drop:
            ws.transport.close()  # flushes what is buffered, then FIN: the server sees 1006
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ws.wait_closed(), self.config.close_timeout)
            report.closed_by, report.close_code = "client-drop", 1006
        else:
            with contextlib.suppress(ConnectionClosed):
                await ws.close()
            received, sent = ws.protocol.close_rcvd, ws.protocol.close_sent
            # Closes can cross: a server that closed for its own reason says so in its code.
            by_server = ws.protocol.close_rcvd_then_sent or (
                received is not None and sent is not None and received.code != sent.code
            )
            report.closed_by = "server" if by_server else "client"
            report.close_code = ws.close_code
            report.close_reason = ws.close_reason or ""
        await self._stop_reader()

    async def _stop_reader(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader
            self.reader = None

    async def execute(self) -> None:
        loop = asyncio.get_running_loop()
        plan, config = self.plan, self.config
        realtime = config.realtime
        if realtime and plan.connect_at > 0:
            await asyncio.sleep(plan.connect_at)
        try:
            if not await self._open(attempt=0):
                return
            # The stream clock starts when the socket opens, so a slow handshake is not counted
            # as send lag: send lag is the simulator's own lateness (or the server's pushback).
            clock = loop.time() - plan.connect_at
            reconnect_at = config.reconnect_at
            total = len(plan.due)
            while self.position < total:
                chunk_end = min(total, self.position + 256)
                dues = plan.due[self.position : chunk_end].tolist()
                kinds = plan.kind[self.position : chunk_end].tolist()
                persps = plan.perspective[self.position : chunk_end].tolist()
                seqs = plan.sequence_id[self.position : chunk_end].tolist()
                refs = plan.ref[self.position : chunk_end].tolist()
                flags = plan.flags[self.position : chunk_end].tolist()
                for i in range(len(dues)):
                    due = dues[i]
                    if reconnect_at is not None and due >= reconnect_at:
                        reconnect_at = None
                        await self._close(drop=True)
                        if not await self._open(attempt=1):
                            return
                    if realtime:
                        delay = clock + due - loop.time()
                        if delay > 0:
                            await asyncio.sleep(delay)
                    elif i % 32 == 0:
                        await asyncio.sleep(0)  # let the other sockets flood too
                    await self._send_row(
                        kinds[i], persps[i], seqs[i], refs[i], flags[i], clock + due, clock
                    )
                    self.position += 1
            await self._close(drop=False)
        except ConnectionClosed as exc:
            self._closed_by_server(exc)
        except asyncio.CancelledError:  # the run's deadline
            connection = self.connection
            if connection is not None and connection.outcome == "pending":
                connection.outcome = "timeout"
            elif connection is not None and connection.closed_by is None:
                connection.closed_by = "deadline"
            raise
        finally:
            await self._stop_reader()
            if self.ws is not None and not self.ws.transport.is_closing():
                self.ws.transport.abort()
            self._count_unsent()

    async def _send_row(
        self, kind: int, p: int, seq: int, ref: int, flags: int, scheduled: float, clock: float
    ) -> None:
        ws, run, report = self.ws, self.run, self.connection
        assert ws is not None
        assert report is not None
        name = PERSPECTIVES[p]
        perspective = self.call.report.perspectives[name]
        if kind == STOP:
            await ws.send(self.call.stop_message())
            report.messages_sent += 1
            perspective.stops_sent += 1
            return
        if kind == MALFORMED:
            await ws.send(malformed_text(ref, name, seq))
            report.messages_sent += 1
            malformed = self.call.report.malformed_sent
            malformed[MALFORMED_KINDS[ref]] = malformed.get(MALFORMED_KINDS[ref], 0) + 1
            return
        loop_time = asyncio.get_running_loop().time
        started = loop_time()
        sent_at = time.time()
        if self.config.send_sent_at:
            text = f'{run.prefixes[p]}{seq}","media":"{run.encoded[p][ref]}","sentAt":{sent_at!r}}}'
        else:
            text = f'{run.prefixes[p]}{seq}","media":"{run.encoded[p][ref]}"}}'
        await ws.send(text)
        finished = loop_time()
        report.messages_sent += 1
        if finished - started > 0.005:
            report.backpressure_waits += 1
        if self.config.realtime:
            run.send_lag.add((started - scheduled) * 1000.0)
        if run.first_media_at is None:
            run.first_media_at = sent_at
            run.first_media_cpu = (sent_at, time.process_time())
        run.last_media_at = sent_at
        if run.media_sent % 64 == 0:
            run.last_media_cpu = (sent_at, time.process_time())
        run.media_sent += 1
        duplicate = kind == DUPLICATE
        if duplicate:
            perspective.duplicates_sent += 1
        else:
            perspective.frames_sent += 1
            if flags & LATE:
                perspective.frames_late += 1
            if flags & REORDERED:
                perspective.frames_reordered += 1
            if perspective.first_sequence_id is None:
                perspective.first_sequence_id = seq
            perspective.last_sequence_id = seq
        if self.call.report.sent_frames is not None:
            self.call.report.sent_frames.append(
                SentFrame(
                    name,
                    seq,
                    run.payloads[p][ref],
                    duplicate,
                    bool(flags & LATE),
                    started - clock,
                    sent_at,
                )
            )

    def _count_unsent(self) -> None:
        rest = slice(self.position, None)
        kinds = self.plan.kind[rest]
        persps = self.plan.perspective[rest][kinds == MEDIA]
        for p in self.plan.perspectives:
            unsent = int(np.count_nonzero(persps == p))
            self.call.report.perspectives[PERSPECTIVES[p]].frames_unsent += unsent
        self.position = len(self.plan.due)


async def _show_progress(run: _Run, total: int, stream: TextIO, started: float) -> None:
    width = 30
    interactive = stream.isatty()
    last_line = time.monotonic()
    while True:
        await asyncio.sleep(0.5)
        done = run.media_sent / total if total else 1.0
        filled = min(width, int(done * width))
        p99 = run.send_lag.percentile(0.99)
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] {done:6.1%} "
            f"{time.monotonic() - started:6.1f}s  calls live {run.calls_live:4d}  "
            f"frames {run.media_sent:,}"
            + (f"  send lag p99 {p99:.0f} ms" if p99 is not None else "")
        )
        if interactive:
            stream.write("\r" + line)
            stream.flush()
        elif time.monotonic() - last_line >= 5:
            stream.write(line + "\n")
            stream.flush()
            last_line = time.monotonic()


def _frames_for(config: SimulationConfig, audio: StereoAudio) -> int:
    seconds = config.duration if config.duration is not None else audio.duration
    return max(1, math.ceil(round(seconds / FRAME_SECONDS, 6)))


async def simulate(config: SimulationConfig) -> SimulationReport:
    """Run every call of ``config`` to completion (or the deadline) and report what was sent.

    Never raises for what the server does: refusals, failures and closes are in the report.
    """
    config.validate()
    seed = config.seed if config.seed is not None else secrets.randbits(32)
    if config.audio is not None:
        audio = config.audio
    elif config.audio_path is not None:
        audio = load_wav(config.audio_path)
    else:
        audio = tone_audio(config.duration or 10.0, seed=seed)
    frames = _frames_for(config, audio)
    run = _Run(config, audio, frames, seed)
    prefix = config.call_id_prefix or f"sim-{secrets.token_hex(4)}"
    calls = [_CallRun(run, i, f"{prefix}-{i + 1}") for i in range(config.calls)]
    seconds = frames * FRAME_SECONDS
    deadline = config.deadline
    if deadline is None:
        deadline = (
            config.ramp + 2 * (seconds + config.late_start_ms / 1000) + 60 + config.calls / 20
        )

    async def start(call: _CallRun) -> None:
        if config.ramp and config.calls > 1:
            await asyncio.sleep(config.ramp * call.index / config.calls)
        await call.execute()

    started_at, started = time.time(), time.monotonic()
    progress = None
    if config.progress:
        total = config.calls * frames * 2
        progress = asyncio.create_task(_show_progress(run, total, sys.stderr, started))
    tasks = [asyncio.create_task(start(call)) for call in calls]
    _done, pending = await asyncio.wait(tasks, timeout=deadline)
    for task in pending:
        task.cancel()
    for outcome in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(outcome, BaseException) and not isinstance(outcome, asyncio.CancelledError):
            raise outcome
    if progress is not None:
        progress.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await progress
        sys.stderr.write("\n" if sys.stderr.isatty() else "")
    return SimulationReport(
        config=config.redacted() | {"call_id_prefix": prefix},
        seed=seed,
        frames_per_perspective=frames,
        calls=[call.report for call in calls],
        started_at=started_at,
        elapsed=time.monotonic() - started,
        send_lag=run.send_lag,
        first_media_at=run.first_media_at,
        last_media_at=run.last_media_at,
        media_cpu=run.media_cpu(),
        timed_out=bool(pending),
    )
