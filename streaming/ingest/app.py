"""The RingCX ingest socket, as a plain ASGI application mounted at ``/``.

It is deliberately not a Channels consumer: a consumer's dispatch awaits a thread hop before
every message, which costs most of a frame's budget. Here the handshake and Start do their
database work in a thread; each Media frame is parsed and handed to the pipeline inline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

from ringadmin.calls.models import CallStatus
from ringadmin.calls.services import CallRefused, call_key_problem
from ringadmin.logging import call_id_var
from ringadmin.storable import storable_json
from streaming.audio.pipeline import CallPipeline, SocketFeed
from streaming.audio.protocol import (
    Connected,
    Media,
    ProtocolError,
    Start,
    Stop,
    is_supported_audio,
    parse,
)
from streaming.ingest.authorize import (
    Decision,
    ingest_authorize_handshake,
    ingest_authorize_start,
    ingest_handshake_record,
    ingest_refusal_record,
)
from streaming.ingest.calls import ingest_call_reject, ingest_call_start
from streaming.ingest.db import in_db_thread
from streaming.ingest.handshake import Handshake, handshake_parse
from streaming.ingest.owner import this_process_owner
from streaming.ingest.registry import LiveCall
from streaming.ingest.runtime import IngestRuntime, get_runtime, recording_path_for

logger = logging.getLogger("streaming.ingest")

CLOSE_NORMAL = 1000
CLOSE_UNSUPPORTED = 1003
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011
CLOSE_TRY_AGAIN = 1013
FRAMES_PER_SECOND = 100  # both legs of a call in real time (20 ms frames)
RECORD_WAIT_SECONDS = 10.0  # for a call's row to accept or refuse the stream that opened it
OTHER_PROFILE = "the call belongs to another streaming profile"
DENY_CODES = {400: 4400, 403: 4403, 404: 4404, 414: 4414, 503: 4503}


class IngestConnection:
    """One RingCX socket: handshake, protocol state machine, limits."""

    def __init__(self, scope: dict[str, Any], receive, send, runtime: IngestRuntime) -> None:
        self.scope = scope
        self.receive = receive
        self._send = send
        self.runtime = runtime
        self.config = runtime.config
        self.connected_at = time.time()
        self.handshake: Handshake | None = None
        self.decision: Decision | None = None
        self.connected_secret: str | None = None
        self.live: LiveCall | None = None
        self.feed: SocketFeed | None = None
        self.started = False
        self.closed = False
        self.terminal_reason = ""
        self.errors: dict[str, int] = {}
        self._speed_window_start = self.connected_at
        self._speed_window_bytes = 0
        self._window_silent = 0  # messages without audio (malformed, Start, Stop, Connected)
        self.last_media = self.connected_at  # or Start: how long this socket has been idle
        self._arriving_key: tuple[str, str] | None = None

    # --- lifecycle --------------------------------------------------------------------------
    async def run(self) -> None:
        """The ASGI server's side: wait for each message and hand it to :meth:`on_message`."""
        message = await self.receive()
        if message["type"] != "websocket.connect":
            return
        if not await self.open():
            return
        receive = self.receive
        try:
            while True:
                message = await receive()
                kind = message["type"]
                if kind == "websocket.disconnect":
                    return
                if kind != "websocket.receive":
                    continue
                data = message.get("text")
                if data is None:
                    data = message.get("bytes") or b""
                pending = self.on_message(data)
                if pending is not None and await pending:
                    return
        except Exception:
            await self.fail()
        finally:
            await self.ended()

    async def open(self) -> bool:
        """Decide the handshake: accept (True) or refuse with an HTTP status (False)."""
        if not await self._admit():
            return False
        registry = self.runtime.registry
        registry.connections.add(self)
        self._arriving_key = self._handshake_call_key()
        if self._arriving_key is not None:
            profile_id = self.decision.profile_id if self.decision else None
            assert profile_id is not None  # a call key is kept only for a verified profile
            registry.note_arriving(self._arriving_key, self, profile_id)
        return True

    async def fail(self) -> None:
        """Something unexpected broke this socket (call from the ``except`` block): keep the
        recording, close with 1011."""
        logger.exception("ingest socket failed; the call's recording is kept")
        await self.close_failed()

    async def close_failed(self) -> bool:
        self.terminal_reason = self.terminal_reason or "internal error"
        await self.close(CLOSE_INTERNAL, "internal error")
        return True

    async def ended(self) -> None:
        """The socket is gone (or finished): let its call go on without it, or end."""
        registry = self.runtime.registry
        registry.connections.discard(self)
        registry.note_arrived(self._arriving_key, self)
        if self.live is not None:
            await self.runtime.endings.detach(
                self.live,
                self,
                feed=self.feed,
                terminal_reason=self.terminal_reason,
                now=time.time(),
            )

    async def _admit(self) -> bool:
        path = self.scope.get("path", "/")
        if path not in ("", "/"):
            shown = "".join(c if c.isprintable() else "?" for c in path[:60])
            await self._deny(404, f"the RingCX ingest socket is served at / (not {shown})")
            return False
        self.handshake = handshake_parse(self.scope)
        if self.handshake.problem is not None:
            status, reason = self.handshake.problem
            await in_db_thread(ingest_handshake_record)(
                handshake=self.handshake, decision=Decision(False, status, reason), profile=None
            )
            await self._deny(status, reason)
            return False
        overload = self.runtime.overloaded()
        if overload:
            self.runtime.shedding.shed_count += 1
            logger.warning("ingest handshake shed (503): %s", overload)
            await self._deny(503, "server busy, retry")
            return False
        call_id_var.set(self.handshake.params.get("callId", "-")[:64])
        try:
            self.decision, profile = await in_db_thread(ingest_authorize_handshake)(
                handshake=self.handshake
            )
        except Exception:
            logger.exception("ingest handshake could not be checked")
            await self._deny(503, "server cannot check credentials now, retry")
            return False
        record = in_db_thread(ingest_handshake_record)
        if not self.decision.accept:
            await record(handshake=self.handshake, decision=self.decision, profile=profile)
            await self._deny(self.decision.status or 403, self.decision.reason)
            return False
        self.runtime.spawn(
            record(handshake=self.handshake, decision=self.decision, profile=profile)
        )
        await self._send({"type": "websocket.accept"})
        return True

    def _handshake_call_key(self) -> tuple[str, str] | None:
        """The call this socket says it will join, when its profile is already verified (only
        then may it keep the call from ending while it comes)."""
        assert self.handshake is not None  # set by _admit
        params = self.handshake.params
        decision = self.decision
        assert decision is not None
        if not params.get("callId") or not (decision.secret_verified and decision.profile_id):
            return None
        return (params["callId"], params.get("sessionId", ""))

    async def _deny(self, status: int, reason: str) -> None:
        """Refuse before accepting: a real HTTP status where the server supports it."""
        if "websocket.http.response" in (self.scope.get("extensions") or {}):
            body = f"{reason}\n".encode()
            await self._send(
                {
                    "type": "websocket.http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await self._send({"type": "websocket.http.response.body", "body": body})
        else:
            await self._send(
                {
                    "type": "websocket.close",
                    "code": DENY_CODES.get(status, 4403),
                    "reason": reason[:120],
                }
            )

    async def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        if code != CLOSE_NORMAL and not self.terminal_reason:
            self.terminal_reason = reason
        try:
            await self._send({"type": "websocket.close", "code": code, "reason": reason[:120]})
        except Exception:  # the peer is already gone
            logger.debug("close after disconnect", exc_info=True)

    # --- frames -----------------------------------------------------------------------------
    def on_message(self, data: str | bytes) -> Awaitable[bool] | None:
        """One message, handled at once when it can be (Media always is). Returns what is
        left to await (Start and Stop may wait for the database), which resolves to True when
        the socket is finished; the server holds later messages back until then."""
        if len(data) > self.config.max_message_bytes:
            return self._too_big(len(data))
        try:
            event = parse(data)
        except ProtocolError as exc:
            self._error(exc.kind, str(exc))
            return None
        if type(event) is Media:
            if self.feed is None:
                self._error("media_before_start", "Media before Start")
                return None
            now = time.time()
            self._speed_window_bytes += len(event.payload)
            self.last_media = now
            live = self.live
            assert live is not None  # set with the feed
            live.last_media = now
            try:
                live.pipeline.media(self.feed, event, now)
            except OSError as exc:
                return self._recording_failed(exc)
            return None
        self._window_silent += 1
        if type(event) is Start:
            return self._start_message(event)
        if type(event) is Stop:
            return self._stop(event)
        if type(event) is Connected:
            self.connected_secret = event.secret or self.connected_secret
        return None

    async def _too_big(self, size: int) -> bool:
        limit = self.config.max_message_bytes
        self._error("message_too_big", f"{size} bytes (limit {limit})")
        await self.close(CLOSE_TOO_BIG, f"message larger than {limit} bytes")
        return True

    async def _recording_failed(self, exc: OSError) -> bool:
        self.terminal_reason = f"recording failed: {exc}"
        await self.close(CLOSE_INTERNAL, "recording failed")
        return True

    async def _start_message(self, start: Start) -> bool:
        return not await self._start(start)

    def _error(self, kind: str, detail: str) -> None:
        count = self.errors.get(kind, 0) + 1
        self.errors[kind] = count
        self._window_silent += 1
        if self.live is not None:
            self.live.pipeline.count_error(kind)
        if count in (1, 10, 100) or count % 1000 == 0:
            logger.warning(
                "ingest frame rejected (%s, %d so far on this socket): %s", kind, count, detail
            )

    # --- Start / Stop -----------------------------------------------------------------------
    async def _start(self, start: Start) -> bool:
        if self.started:
            self._error("duplicate_start", "a second Start on the same socket")
            return True
        call_id_var.set(start.call_id[:64])
        problem = call_key_problem(ringcx_call_id=start.call_id, session_id=start.session_id)
        if problem:
            await self._refuse("bad_call_id", problem)
            return False
        # Bounded and cleaned once: it goes to the database, the log and the authorization.
        start.metadata, trimmed = storable_json(start.metadata)
        if trimmed:
            self._error("metadata_trimmed", "Start metadata over the limits was cut")
        secret = start.secret or self.connected_secret
        decision = self.decision
        assert decision is not None  # set by _admit
        assert self.handshake is not None
        if not (decision.secret_verified and decision.profile_id is not None):
            decision = await in_db_thread(ingest_authorize_start)(
                handshake=self.handshake,
                decision=self.decision,
                metadata=start.metadata,
                secret=secret,
            )
        if not decision.accept:
            self.runtime.registry.count_refusal("unauthorized")
            self.terminal_reason = decision.reason
            await self.close(CLOSE_POLICY, decision.reason)
            return False
        self.decision = decision
        if not is_supported_audio(start):
            reason = (
                f"unsupported audio {start.content_type[:40]} at {start.sample_rate} Hz: only "
                "audio/x-mulaw at 8000 Hz is recorded"
            )
            logger.warning("ingest stream refused: %s", reason)
            await in_db_thread(ingest_call_reject)(
                ringcx_call_id=start.call_id,
                session_id=start.session_id,
                profile_id=decision.profile_id,
                metadata=start.metadata,
                handshake=self.handshake.as_record(),
                reason=reason,
            )
            self.terminal_reason = reason
            await self.close(CLOSE_UNSUPPORTED, reason[:120])
            return False
        key = (start.call_id, start.session_id)
        live = self.runtime.registry.live.get(key)
        if live is not None and live.profile_id != decision.profile_id:
            # Another profile's stream opened it and its row has not answered yet: it may be
            # refused (the call is ours), so a stream cannot keep a call's owner out.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(live.db_ready.wait(), RECORD_WAIT_SECONDS)
        # No await from lookup to attach: a second socket of the call can never race this.
        live = self.runtime.registry.live.get(key)
        refusal = self._join_refusal(key, live)
        if refusal is not None:
            kind, reason, code = refusal
            await self._refuse(kind, reason, code)
            return False
        if live is None:
            live = self._open_call(key, start)
        else:  # a second socket of the call, or a reconnect: mark it live again
            live.record_writes.add(
                self.runtime.spawn(self._record_start(live, start, new_recording=False))
            )
        live.connections.add(self)
        self.runtime.registry.note_arrived(self._arriving_key, self)
        live.orphaned_since = None
        self.live = live
        self.feed = live.pipeline.open_socket()
        self.started = True
        self.last_media = time.time()
        for kind, count in self.errors.items():
            live.pipeline.errors[kind] = live.pipeline.errors.get(kind, 0) + count
        return True

    def _join_refusal(
        self, key: tuple[str, str], live: LiveCall | None
    ) -> tuple[str, str, int] | None:
        """Why this socket may not join (or start) the call: (kind, reason, close code)."""
        config = self.config
        assert self.decision is not None  # set by _admit, then by _start
        profile_id = self.decision.profile_id
        if live is not None:
            if live.profile_id != profile_id:
                return ("other_profile", OTHER_PROFILE, CLOSE_POLICY)
            if len(live.connections) >= config.max_sockets_per_call:
                return (
                    "too_many_sockets",
                    f"the call already has {len(live.connections)} sockets "
                    f"(limit {config.max_sockets_per_call})",
                    CLOSE_POLICY,
                )
            if len(live.pipeline.feeds) >= config.max_sockets_per_call_total:
                return (
                    "too_many_sockets",
                    f"the call had {len(live.pipeline.feeds)} sockets "
                    f"(limit {config.max_sockets_per_call_total})",
                    CLOSE_POLICY,
                )
            return None
        ending = self.runtime.registry.ending.get(key)
        if ending is not None:
            if ending.final_status == CallStatus.COMPLETED:
                return ("call_ended", "call already completed: it is never reopened", CLOSE_POLICY)
            if ending.profile_id != profile_id:
                return ("other_profile", OTHER_PROFILE, CLOSE_POLICY)
        limit = config.max_calls_per_profile
        if (
            limit
            and profile_id is not None
            and self.runtime.registry.calls_by_profile.get(profile_id, 0) >= limit
        ):
            return (
                "too_many_calls",
                f"streaming profile {profile_id} has {limit} live calls here (the limit)",
                CLOSE_TRY_AGAIN,
            )
        return None

    async def _refuse(self, kind: str, reason: str, code: int = CLOSE_POLICY) -> None:
        """Refuse the stream after the handshake: counted, logged, in the handshake log, and
        closed with the reason (after the log entry is written: whoever sees the close finds
        it)."""
        self.runtime.registry.count_refusal(kind)
        logger.warning("ingest stream refused at Start (%s): %s", kind, reason)
        self.terminal_reason = reason
        await self._log_refusal(reason)
        await self.close(code, reason)

    async def _log_refusal(self, reason: str) -> None:
        decision = self.decision
        try:
            await in_db_thread(ingest_refusal_record)(
                handshake=self.handshake,
                profile_id=decision.profile_id if decision else None,
                reason=reason,
            )
        except Exception:
            logger.exception("the refusal could not be written to the handshake log")

    def _open_call(self, key: tuple[str, str], start: Start) -> LiveCall:
        """Start recording at once; the call row is written meanwhile. Frames never wait for
        the database: when many calls start together, that wait was their first frames' lag."""
        now = time.time()
        started = datetime.now(UTC)
        path = recording_path_for(
            call_id=start.call_id, session_id=start.session_id, started=started
        )
        pipeline = CallPipeline(path=path, config=self.config.pipeline)
        assert self.decision is not None  # set by _start
        live = LiveCall(
            key=key,
            call_pk=None,
            pipeline=pipeline,
            started_at=now,
            last_media=now,
            profile_id=self.decision.profile_id,
        )
        registry = self.runtime.registry
        previous = registry.ending.get(key)  # the same call ending incomplete: after it
        registry.add_live(live)
        self.runtime.transcripts.attach(live)
        live.record_writes.add(
            self.runtime.spawn(
                self._record_start(live, start, new_recording=True, started=started, after=previous)
            )
        )
        logger.info("call started: recording to %s", path)
        return live

    async def _record_start(
        self,
        live: LiveCall,
        start: Start,
        *,
        new_recording: bool,
        started: datetime | None = None,
        after: LiveCall | None = None,
    ) -> None:
        if after is not None:  # its final record first, then this one "live again"
            await after.ended.wait()
        assert self.handshake is not None  # set by _admit
        try:
            result = await in_db_thread(ingest_call_start)(
                ringcx_call_id=start.call_id,
                session_id=start.session_id,
                profile_id=live.profile_id,
                metadata=start.metadata,
                handshake=self.handshake.as_record(),
                owner=this_process_owner(),
                recording_path=str(live.pipeline.writer.path),
                started_at=started,
                new_recording=new_recording,
            )
        except CallRefused as refused:
            reason = str(refused)
            self.runtime.registry.count_refusal("call_refused")
            logger.warning("ingest stream refused by its call record: %s", reason)
            await self._log_refusal(reason)
            if new_recording:
                await self.runtime.endings.discard(live, reason)
            else:
                self.terminal_reason = reason
                await self.close(CLOSE_POLICY, reason)
            return
        except Exception:
            logger.exception("the call record could not be written; the recording goes on")
            return
        live.call_pk = result.call.pk
        if new_recording:
            live.earlier_stats = result.earlier_stats
        live.db_ready.set()
        await self.runtime.events.publish(
            live, {"type": "call.started", "sockets": len(live.connections)}
        )

    async def _stop(self, stop: Stop) -> bool:
        """Returns True when the socket is finished."""
        if self.feed is None:
            self._error("stop_before_start", "Stop before Start")
            return False
        live = self.live
        assert live is not None  # set with the feed
        # Bounded as it grows: a socket may send any number of Stops.
        live.stop_metadata = storable_json({**live.stop_metadata, **stop.metadata})[0]
        live.pipeline.stop(self.feed, stop.perspective)
        others_done = all(
            other.finished_sending for other in live.connections if other is not self
        ) and not self.runtime.registry.arriving_for(live)
        if live.pipeline.all_stopped and others_done:
            await self.runtime.endings.finalize(
                live, CallStatus.COMPLETED, "every perspective stopped"
            )
            return True
        return False

    @property
    def finished_sending(self) -> bool:
        """Nothing more will come from this socket: it stopped every perspective it sent (or
        sent Stop having sent none), or it is closing."""
        feed = self.feed
        if self.closed:
            return True
        return feed is not None and (feed.all_stopped or (feed.stops > 0 and not feed.perspectives))

    # --- limits (checked by the ticker, not per frame) ---------------------------------------
    def check_limits(self, now: float) -> None:
        config = self.config
        if self.closed:
            return
        if not self.started and now - self.connected_at > config.start_timeout:
            self.terminal_reason = f"no Start within {config.start_timeout:g} s"
            self.runtime.spawn(self.close(CLOSE_POLICY, self.terminal_reason))
            return
        feed = self.feed
        if (
            feed is not None
            and not self.finished_sending
            and now - self.last_media > config.media_timeout
            and self.live is not None  # (set with the feed)
            and len(self.live.connections) > 1  # alone, the call's own timeout ends it
        ):
            # The call goes on through its other sockets; this one says nothing.
            self.terminal_reason = f"no media on this socket for {config.media_timeout:g} s"
            self.runtime.spawn(self.close(CLOSE_POLICY, self.terminal_reason))
            return
        elapsed = now - self._speed_window_start
        if elapsed >= config.speed_window:
            legs = max(1, len(feed.perspectives)) if feed is not None else 1
            ratio = self._speed_window_bytes / 8000 / elapsed / legs
            silent_per_second = self._window_silent / elapsed
            self._speed_window_start, self._speed_window_bytes = now, 0
            self._window_silent = 0
            if config.max_speed_ratio and ratio > config.max_speed_ratio:
                self._error("too_fast", f"audio arriving {ratio:.1f}x faster than real time")
                self.terminal_reason = f"sending {ratio:.0f}x faster than real time"
                self.runtime.spawn(self.close(CLOSE_POLICY, self.terminal_reason))
            elif config.max_speed_ratio and (
                silent_per_second > config.max_speed_ratio * FRAMES_PER_SECOND
            ):
                # Malformed frames are skipped, but not at any rate: each costs a parse.
                self.terminal_reason = (
                    f"sending {silent_per_second:.0f} messages a second without audio"
                )
                self.runtime.spawn(self.close(CLOSE_POLICY, self.terminal_reason))


class IngestApplication:
    """ASGI entry for the RingCX socket."""

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "websocket":
            raise ValueError("the ingest application serves WebSocket connections only")
        connection = IngestConnection(scope, receive, send, get_runtime())
        await connection.run()


ingest_application = IngestApplication()
