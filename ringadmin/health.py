"""Health of each dependency: database, channel layer, task broker.

Each check is bounded in time so a dead dependency makes ``/healthz`` answer 503 promptly
rather than hang.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection

from ringadmin.celery import app as celery_app

CHECK_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class DependencyState:
    name: str
    ok: bool
    backend: str
    latency_ms: float
    error: str = ""

    def as_dict(self) -> dict:
        data = {"ok": self.ok, "backend": self.backend, "latency_ms": round(self.latency_ms, 1)}
        if self.error:
            data["error"] = self.error
        return data


def _timed(name: str, backend: str, check) -> DependencyState:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:  # every failure of a dependency is reported, none raised
        return DependencyState(
            name,
            False,
            backend,
            (time.perf_counter() - started) * 1000,
            f"{type(exc).__name__}: {exc}"[:300],
        )
    return DependencyState(name, True, backend, (time.perf_counter() - started) * 1000)


def check_database() -> DependencyState:
    def probe() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    return _timed("database", connection.vendor, probe)


def check_channel_layer() -> DependencyState:
    layer = get_channel_layer()

    async def round_trip() -> None:
        channel = await asyncio.wait_for(layer.new_channel(prefix="healthz"), CHECK_TIMEOUT_SECONDS)
        token = uuid.uuid4().hex
        await asyncio.wait_for(
            layer.send(channel, {"type": "healthz", "token": token}), CHECK_TIMEOUT_SECONDS
        )
        message = await asyncio.wait_for(layer.receive(channel), CHECK_TIMEOUT_SECONDS)
        if message.get("token") != token:
            raise RuntimeError("channel layer returned another message")

    return _timed("channel_layer", type(layer).__name__, async_to_sync(round_trip))


def check_broker() -> DependencyState:
    def probe() -> None:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=CHECK_TIMEOUT_SECONDS)
            conn.default_channel  # noqa: B018 - opening the channel proves the broker answers

    backend = settings.CELERY_BROKER_URL.split("://", 1)[0]
    return _timed("broker", backend, probe)


def health_report() -> tuple[bool, dict]:
    """(all healthy, JSON-able report)."""
    states = [check_database(), check_channel_layer(), check_broker()]
    healthy = all(s.ok for s in states)
    return healthy, {
        "status": "ok" if healthy else "degraded",
        "dependencies": {s.name: s.as_dict() for s in states},
    }
