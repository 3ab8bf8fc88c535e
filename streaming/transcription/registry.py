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
    # Each engine's module is imported when that engine is built: the hosted engines' client
    # libraries and the offline model are optional, and a process loads only what it uses.
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


def engine_close(engine) -> None:
    """Hosted engines hold an HTTP client; the offline one holds nothing to close."""
    close = getattr(engine, "close", None)
    if close is not None:
        close()


def _google(timeout: float):
    # Lazily, as every engine (see engine_build).
    from streaming.transcription.engines.google import GoogleSpeechConfig, GoogleSpeechEngine

    if not (settings.GOOGLE_SPEECH_API_KEY or settings.GOOGLE_SPEECH_CREDENTIALS_FILE):
        raise EngineNotConfigured(
            "the google engine needs GOOGLE_SPEECH_API_KEY or GOOGLE_SPEECH_CREDENTIALS_FILE"
        )
    return GoogleSpeechEngine(
        GoogleSpeechConfig(
            api_key=settings.GOOGLE_SPEECH_API_KEY,
            service_account_file=settings.GOOGLE_SPEECH_CREDENTIALS_FILE,
            model=settings.GOOGLE_SPEECH_MODEL,
            language_code=settings.TRANSCRIPTION_LANGUAGE,
            bucket=settings.GOOGLE_SPEECH_BUCKET,
            base_url=settings.GOOGLE_SPEECH_BASE_URL,
            storage_url=settings.GOOGLE_STORAGE_BASE_URL,
            connect_timeout=settings.VENDOR_HTTP_TIMEOUT_SECONDS,
            timeout=timeout,
        )
    )


def _deepgram(timeout: float):
    # Lazily, as every engine (see engine_build).
    from streaming.transcription.engines.deepgram import DeepgramConfig, DeepgramEngine

    if not settings.DEEPGRAM_API_KEY:
        raise EngineNotConfigured("the deepgram engine needs DEEPGRAM_API_KEY")
    return DeepgramEngine(
        DeepgramConfig(
            api_key=settings.DEEPGRAM_API_KEY,
            model=settings.DEEPGRAM_MODEL,
            language=settings.TRANSCRIPTION_LANGUAGE,
            base_url=settings.DEEPGRAM_BASE_URL,
            connect_timeout=settings.VENDOR_HTTP_TIMEOUT_SECONDS,
            timeout=timeout,
        )
    )


def _openai(timeout: float):
    # Lazily, as every engine (see engine_build).
    from streaming.transcription.engines.openai import OpenAIConfig, OpenAIEngine

    if not settings.OPENAI_API_KEY:
        raise EngineNotConfigured("the openai engine needs OPENAI_API_KEY")
    return OpenAIEngine(
        OpenAIConfig(
            api_key=settings.OPENAI_API_KEY,
            model=settings.OPENAI_TRANSCRIPTION_MODEL,
            language=settings.TRANSCRIPTION_LANGUAGE.split("-")[0],
            base_url=settings.OPENAI_BASE_URL,
            connect_timeout=settings.VENDOR_HTTP_TIMEOUT_SECONDS,
            timeout=timeout,
        )
    )
