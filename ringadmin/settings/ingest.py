"""The RingCX ingest socket: limits and timing of every call it records."""

from __future__ import annotations

from ringadmin.settings.base import env

INGEST_MAX_MESSAGE_BYTES = env.int("INGEST_MAX_MESSAGE_BYTES", default=64 * 1024)
INGEST_START_TIMEOUT_SECONDS = env.float("INGEST_START_TIMEOUT_SECONDS", default=10.0)
# for a client's HTTP request line and headers, on every server (a half-sent request is closed)
INGEST_HANDSHAKE_TIMEOUT_SECONDS = env.float("INGEST_HANDSHAKE_TIMEOUT_SECONDS", default=10.0)
INGEST_MEDIA_TIMEOUT_SECONDS = env.float("INGEST_MEDIA_TIMEOUT_SECONDS", default=30.0)
INGEST_MAX_CALL_SECONDS = env.float("INGEST_MAX_CALL_SECONDS", default=8 * 3600.0)
INGEST_MAX_SPEED_RATIO = env.float("INGEST_MAX_SPEED_RATIO", default=10.0)  # 0 disables
INGEST_SPEED_WINDOW_SECONDS = env.float("INGEST_SPEED_WINDOW_SECONDS", default=5.0)
INGEST_REORDER_WINDOW_MS = env.int("INGEST_REORDER_WINDOW_MS", default=1000)
# Silence the ingest may invent (lost frames) beyond the time the call has lasted, seconds.
INGEST_SILENCE_ALLOWANCE_SECONDS = env.float("INGEST_SILENCE_ALLOWANCE_SECONDS", default=2.0)
INGEST_RECONNECT_GRACE_SECONDS = env.float("INGEST_RECONNECT_GRACE_SECONDS", default=5.0)
INGEST_MAX_CONNECTIONS = env.int("INGEST_MAX_CONNECTIONS", default=2000)
INGEST_MAX_SOCKETS_PER_CALL = env.int("INGEST_MAX_SOCKETS_PER_CALL", default=4)
INGEST_MAX_CALLS_PER_PROFILE = env.int("INGEST_MAX_CALLS_PER_PROFILE", default=1000)  # 0: none
INGEST_SHED_LAG_MS = env.float("INGEST_SHED_LAG_MS", default=250.0)
INGEST_EVENTS_HZ = env.float("INGEST_EVENTS_HZ", default=2.0)
# The live calls page's digest: one message per ingest process per period, every live call in it.
INGEST_LIVE_DIGEST_SECONDS = env.float("INGEST_LIVE_DIGEST_SECONDS", default=1.0)
INGEST_STATS_INTERVAL_SECONDS = env.float("INGEST_STATS_INTERVAL_SECONDS", default=10.0)
INGEST_TICK_SECONDS = env.float("INGEST_TICK_SECONDS", default=0.2)
# When true, a profile with a secret must receive it in the handshake (else 403); when false it
# may also arrive in the Connected or Start message (RingCX's delivery is not documented).
INGEST_REQUIRE_HANDSHAKE_SECRET = env.bool("INGEST_REQUIRE_HANDSHAKE_SECRET", default=False)
# Threads for the ingest's database work (handshakes, call start and end), so many calls can
# start at once.
INGEST_DB_THREADS = env.int("INGEST_DB_THREADS", default=8)
# daphne | uvicorn | websockets (the RingCX socket alone, on INGEST_PORT, beside daphne)
INGEST_SERVER = env.str("INGEST_SERVER", default="daphne")
INGEST_PORT = env.int("INGEST_PORT", default=8002)
