"""Engines built from settings: the one place that knows every engine's configuration."""

from __future__ import annotations

from django.conf import settings

from streaming.transcription.engines.base import EngineNotConfigured

ENGINES = ("whisper", "google", "deepgram", "openai")
NONE = "none"


def engine_name_for(*, profile=None, requested: str | None = None) -> str:
    """The engine a call is transcribed with: asked for, else its profile's, else the default."""
    name = (requested or (profile.transcription_engine if profile else "") or "").strip()
    name = name or settings.TRANSCRIPTION_ENGINE
    if name not in (*ENGINES, NONE):
        raise EngineNotConfigured(
            f"unknown transcription engine {name!r}: choose one of {', '.join(ENGINES)} or none"
        )
    return name


def engine_build(name: str):
    """A ready engine; raises ``EngineNotConfigured`` saying which setting is missing."""
    timeout = settings.VENDOR_HTTP_TIMEOUT_SECONDS * 6  # audio uploads take longer than API calls
    if name == "whisper":
        from streaming.transcription.engines.whisper import WhisperConfig, WhisperEngine

        return WhisperEngine(
            WhisperConfig(
                model=settings.WHISPER_MODEL,
                model_sha256=settings.WHISPER_MODEL_SHA256,
                compute_type=settings.WHISPER_COMPUTE_TYPE,
                beam_size=settings.WHISPER_BEAM_SIZE,
                cpu_threads=settings.WHISPER_CPU_THREADS,
                language=settings.TRANSCRIPTION_LANGUAGE.split("-")[0],
                allow_download=settings.WHISPER_ALLOW_DOWNLOAD,
            )
        )
    if name == "google":
        return _google(timeout)
    if name == "deepgram":
        return _deepgram(timeout)
    if name == "openai":
        return _openai(timeout)
    raise EngineNotConfigured(f"transcription engine {name!r} cannot be built")


def _google(timeout: float):
    raise EngineNotConfigured("google engine: not wired yet")


def _deepgram(timeout: float):
    raise EngineNotConfigured("deepgram engine: not wired yet")


def _openai(timeout: float):
    raise EngineNotConfigured("openai engine: not wired yet")
