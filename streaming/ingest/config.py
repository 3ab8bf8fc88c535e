"""The ingest's limits, read once from Django settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings

from streaming.audio.pipeline import PipelineConfig
from streaming.transcription.live_link import LinkSettings
from streaming.transcription.live_protocol import endpoint_parse, key_check

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestConfig:
    max_message_bytes: int
    start_timeout: float
    media_timeout: float
    max_call_seconds: float
    max_speed_ratio: float
    speed_window: float
    reconnect_grace: float
    max_connections: int
    shed_lag_ms: float
    events_hz: float
    stats_interval: float
    tick_seconds: float
    pipeline: PipelineConfig
    live_transcription: LinkSettings | None = None  # workers and their key; None = off
    max_sockets_per_call: int = 4  # at once
    max_sockets_per_call_total: int = 100  # over the call's life (each keeps its numbering)
    max_calls_per_profile: int = 1000  # live calls of one profile in this process; 0: no limit

    @classmethod
    def from_settings(cls) -> IngestConfig:
        window_ms = settings.INGEST_REORDER_WINDOW_MS
        return cls(
            max_message_bytes=settings.INGEST_MAX_MESSAGE_BYTES,
            start_timeout=settings.INGEST_START_TIMEOUT_SECONDS,
            media_timeout=settings.INGEST_MEDIA_TIMEOUT_SECONDS,
            max_call_seconds=settings.INGEST_MAX_CALL_SECONDS,
            max_speed_ratio=settings.INGEST_MAX_SPEED_RATIO,
            speed_window=settings.INGEST_SPEED_WINDOW_SECONDS,
            reconnect_grace=settings.INGEST_RECONNECT_GRACE_SECONDS,
            max_connections=settings.INGEST_MAX_CONNECTIONS,
            shed_lag_ms=settings.INGEST_SHED_LAG_MS,
            events_hz=settings.INGEST_EVENTS_HZ,
            stats_interval=settings.INGEST_STATS_INTERVAL_SECONDS,
            tick_seconds=settings.INGEST_TICK_SECONDS,
            pipeline=PipelineConfig(
                window_frames=max(1, window_ms // 20),
                window_seconds=window_ms / 1000,
                silence_allowance_seconds=settings.INGEST_SILENCE_ALLOWANCE_SECONDS,
            ),
            live_transcription=live_transcription_settings(),
            max_sockets_per_call=settings.INGEST_MAX_SOCKETS_PER_CALL,
            max_calls_per_profile=settings.INGEST_MAX_CALLS_PER_PROFILE,
        )


def live_transcription_settings() -> LinkSettings | None:
    """``LIVE_TRANSCRIPTION_WORKERS``, ``_KEY`` and ``_TLS_CA``, checked; None when live
    transcription is off. A bad address or key is logged and left out, never fatal: calls
    are still recorded, and transcribed after they end."""
    if not settings.LIVE_TRANSCRIPTION or not settings.LIVE_TRANSCRIPTION_WORKERS:
        return None
    endpoints = []
    for item in settings.LIVE_TRANSCRIPTION_WORKERS:
        try:
            endpoints.append(endpoint_parse(item))
        except ValueError as exc:
            logger.error("LIVE_TRANSCRIPTION_WORKERS: %s; that worker is not used", exc)
    try:
        key = key_check(settings.LIVE_TRANSCRIPTION_KEY)
    except ValueError as exc:
        logger.error(
            "live transcription is off: %s (manage.py serve makes one for the workers it starts)",
            exc,
        )
        return None
    if not endpoints:
        return None
    return LinkSettings(tuple(endpoints), key, settings.LIVE_TRANSCRIPTION_TLS_CA)
