"""Transcription: the post-call engines (Whisper, Google, Deepgram, OpenAI) and live workers."""

from __future__ import annotations

from ringadmin.settings.base import env

# Post-call engine: whisper (offline, default) | google | deepgram | openai | none. A streaming
# profile can choose another for its calls.
TRANSCRIPTION_ENGINE = env.str("TRANSCRIPTION_ENGINE", default="whisper")
TRANSCRIPTION_LANGUAGE = env.str("TRANSCRIPTION_LANGUAGE", default="en-US")
TRANSCRIPTION_MAX_RETRIES = env.int("TRANSCRIPTION_MAX_RETRIES", default=6)
# Transcripts are stored redacted (card numbers, security codes, SSNs). The text before
# redaction is kept only when this is true, in its own table, readable with the
# view_unredacted_transcript permission (no role holds it) and each read audited.
TRANSCRIPT_STORE_UNREDACTED = env.bool("TRANSCRIPT_STORE_UNREDACTED", default=False)
# Whisper: "bundled" (tiny.en, the transcription extra), a CTranslate2 model directory, or a
# model name (downloaded only when WHISPER_ALLOW_DOWNLOAD is true).
WHISPER_MODEL = env.str("WHISPER_MODEL", default="bundled")
WHISPER_MODEL_SHA256 = env.str("WHISPER_MODEL_SHA256", default="")  # for a model directory
WHISPER_COMPUTE_TYPE = env.str("WHISPER_COMPUTE_TYPE", default="int8")
WHISPER_BEAM_SIZE = env.int("WHISPER_BEAM_SIZE", default=5)
WHISPER_CPU_THREADS = env.int("WHISPER_CPU_THREADS", default=1)  # per Celery worker process
WHISPER_ALLOW_DOWNLOAD = env.bool("WHISPER_ALLOW_DOWNLOAD", default=False)
GOOGLE_SPEECH_API_KEY = env.str("GOOGLE_SPEECH_API_KEY", default="")
GOOGLE_SPEECH_CREDENTIALS_FILE = env.str("GOOGLE_SPEECH_CREDENTIALS_FILE", default="")
GOOGLE_SPEECH_BASE_URL = env.str("GOOGLE_SPEECH_BASE_URL", default="https://speech.googleapis.com")
GOOGLE_SPEECH_MODEL = env.str("GOOGLE_SPEECH_MODEL", default="phone_call")
GOOGLE_SPEECH_BUCKET = env.str("GOOGLE_SPEECH_BUCKET", default="")
GOOGLE_STORAGE_BASE_URL = env.str(
    "GOOGLE_STORAGE_BASE_URL", default="https://storage.googleapis.com"
)
DEEPGRAM_API_KEY = env.str("DEEPGRAM_API_KEY", default="")
DEEPGRAM_BASE_URL = env.str("DEEPGRAM_BASE_URL", default="https://api.deepgram.com")
DEEPGRAM_MODEL = env.str("DEEPGRAM_MODEL", default="nova-2-phonecall")
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="https://api.openai.com")
OPENAI_TRANSCRIPTION_MODEL = env.str("OPENAI_TRANSCRIPTION_MODEL", default="whisper-1")
# Live transcription: the ingest streams each call to these workers (host:port); `manage.py
# serve` starts one worker per local address. Partials cost close to a core per live call.
LIVE_TRANSCRIPTION = env.bool("LIVE_TRANSCRIPTION", default=True)
LIVE_TRANSCRIPTION_WORKERS = env.list("LIVE_TRANSCRIPTION_WORKERS", default=[])
LIVE_TRANSCRIPTION_KEY = env.str("LIVE_TRANSCRIPTION_KEY", default="")
LIVE_TRANSCRIPTION_TLS_CA = env.str("LIVE_TRANSCRIPTION_TLS_CA", default="")
LIVE_TRANSCRIPTION_PARTIALS = env.bool("LIVE_TRANSCRIPTION_PARTIALS", default=False)
LIVE_TRANSCRIPTION_BEAM_SIZE = env.int("LIVE_TRANSCRIPTION_BEAM_SIZE", default=1)
