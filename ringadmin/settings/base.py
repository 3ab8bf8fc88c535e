"""Settings for every environment, read from the process environment through one ``env``.

Defaults are the embedded ones (SQLite, in-memory channel layer, a file-system Celery broker)
so ``make run`` needs no service. Setting ``DATABASE_URL`` / ``REDIS_URL`` switches to
PostgreSQL and Redis. ``DEBUG`` is off unless asked for, and then ``SECRET_KEY`` is required.
"""

from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from ringadmin.logging import log_format_default, logging_config

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
ENV_FILE = env.str("RINGADMIN_ENV_FILE", default=str(BASE_DIR / ".env"))
if Path(ENV_FILE).is_file():
    environ.Env.read_env(ENV_FILE, overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var"))).resolve()

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Production (DEBUG=false) needs a long random SECRET_KEY, e.g. "
            "SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(50))'). "
            f"For local development set DEBUG=true, in the environment or in {ENV_FILE} "
            "(`make run` writes that file, with a generated SECRET_KEY, when there is none)."
        )
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_TZ = True
LANGUAGE_CODE = "en-us"
USE_I18N = True

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "ringadmin.apps.RingadminConfig",
    "ringadmin.calls.apps.CallsConfig",
    "ringadmin.compliance.apps.ComplianceConfig",
    "streaming.apps.StreamingConfig",
    "monitoring.apps.MonitoringConfig",
]

MIDDLEWARE = [
    "ringadmin.logging.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "ringadmin.urls"
ASGI_APPLICATION = "ringadmin.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "ringadmin.context_processors.product",
            ],
        },
    }
]

# --- Database: SQLite under var/ unless DATABASE_URL says otherwise -------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'ringadmin.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # WAL lets the web server, the worker and beat share the file without "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, Celery broker and cache when REDIS_URL is set ---------------------
REDIS_URL = env.str("REDIS_URL", default="")
REDIS_KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default="ringadmin")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                "prefix": f"{REDIS_KEY_PREFIX}:asgi",
                "capacity": 1000,
                "expiry": 30,
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"{REDIS_KEY_PREFIX}:cache",
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery -------------------------------------------------------------------------------------
CELERY_BROKER_DIR = VAR_DIR / "celery-broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "global_keyprefix": f"{REDIS_KEY_PREFIX}:celery:",
        "visibility_timeout": 3600,
    }
else:
    # An embedded broker: messages are files under var/, shared by every local process.
    CELERY_BROKER_URL = "filesystem://localhost//"
    for _folder in ("queue", "control", "processed"):
        (CELERY_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "store_processed": False,
    }
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=25 * 60)
# Late acknowledgement is set per task, only on tasks that are idempotent (CONVENTIONS.md).
CELERY_TASK_ACKS_LATE = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict = {
    "recover-interrupted-recordings": {
        "task": "streaming.recover_interrupted_recordings",
        "schedule": 300.0,
    },
    "verify-streaming-profiles-with-ringcx": {
        "task": "streaming.profiles_verify",
        "schedule": env.float("STREAMING_PROFILE_VERIFY_SECONDS", default=3600.0),
    },
}

# --- Files --------------------------------------------------------------------------------------
RECORDINGS_DIR = Path(env.str("RECORDINGS_DIR", default=str(VAR_DIR / "recordings"))).resolve()
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
if DEBUG:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise serves from finders; no warning
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- RingCX ingest socket ----------------------------------------------------------------------
INGEST_MAX_MESSAGE_BYTES = env.int("INGEST_MAX_MESSAGE_BYTES", default=64 * 1024)
INGEST_START_TIMEOUT_SECONDS = env.float("INGEST_START_TIMEOUT_SECONDS", default=10.0)
INGEST_MEDIA_TIMEOUT_SECONDS = env.float("INGEST_MEDIA_TIMEOUT_SECONDS", default=30.0)
INGEST_MAX_CALL_SECONDS = env.float("INGEST_MAX_CALL_SECONDS", default=8 * 3600.0)
INGEST_MAX_SPEED_RATIO = env.float("INGEST_MAX_SPEED_RATIO", default=10.0)  # 0 disables
INGEST_SPEED_WINDOW_SECONDS = env.float("INGEST_SPEED_WINDOW_SECONDS", default=5.0)
INGEST_REORDER_WINDOW_MS = env.int("INGEST_REORDER_WINDOW_MS", default=1000)
# Silence the ingest may invent (lost frames) beyond the time the call has lasted, seconds.
INGEST_SILENCE_ALLOWANCE_SECONDS = env.float("INGEST_SILENCE_ALLOWANCE_SECONDS", default=2.0)
INGEST_RECONNECT_GRACE_SECONDS = env.float("INGEST_RECONNECT_GRACE_SECONDS", default=5.0)
INGEST_MAX_CONNECTIONS = env.int("INGEST_MAX_CONNECTIONS", default=2000)
INGEST_SHED_LAG_MS = env.float("INGEST_SHED_LAG_MS", default=250.0)
INGEST_EVENTS_HZ = env.float("INGEST_EVENTS_HZ", default=2.0)
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

# --- Transcription -----------------------------------------------------------------------------
# Post-call engine: whisper (offline, default) | google | deepgram | openai | none. A streaming
# profile can choose another for its calls.
TRANSCRIPTION_ENGINE = env.str("TRANSCRIPTION_ENGINE", default="whisper")
TRANSCRIPTION_LANGUAGE = env.str("TRANSCRIPTION_LANGUAGE", default="en-US")
TRANSCRIPTION_MAX_RETRIES = env.int("TRANSCRIPTION_MAX_RETRIES", default=6)
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
LIVE_TRANSCRIPTION_WORKERS = env.list("LIVE_TRANSCRIPTION_WORKERS", default=["127.0.0.1:8710"])
LIVE_TRANSCRIPTION_PARTIALS = env.bool("LIVE_TRANSCRIPTION_PARTIALS", default=False)
LIVE_TRANSCRIPTION_BEAM_SIZE = env.int("LIVE_TRANSCRIPTION_BEAM_SIZE", default=1)

# --- Vendors ------------------------------------------------------------------------------------
RINGCENTRAL_SERVER_URL = env.str(
    "RINGCENTRAL_SERVER_URL", default="https://platform.ringcentral.com"
)
RINGCENTRAL_CLIENT_ID = env.str("RINGCENTRAL_CLIENT_ID", default="")
RINGCENTRAL_CLIENT_SECRET = env.str("RINGCENTRAL_CLIENT_SECRET", default="")
RINGCENTRAL_JWT = env.str("RINGCENTRAL_JWT", default="")
RINGCX_SERVER_URL = env.str("RINGCX_SERVER_URL", default="https://ringcx.ringcentral.com")
# Set by `make run` when it runs the local FAKE RingCentral + RingCX (demo mode): pages say so.
RINGADMIN_DEMO_FAKE = env.bool("RINGADMIN_DEMO_FAKE", default=False)
RINGCX_MEDIA_PRODUCT_BASE_PATH = env.str(
    "RINGCX_MEDIA_PRODUCT_BASE_PATH", default="/platform/api/media/product"
)
# Timeout of every call to RingCentral and RingCX (connect, read, write), seconds.
VENDOR_HTTP_TIMEOUT_SECONDS = env.float("VENDOR_HTTP_TIMEOUT_SECONDS", default=10.0)
# Longest pause before a call whose rate-limit group is nearly spent (0 disables pacing).
VENDOR_RATE_LIMIT_MAX_PAUSE_SECONDS = env.float("VENDOR_RATE_LIMIT_MAX_PAUSE_SECONDS", default=30.0)

# --- Auth ---------------------------------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUDIT_HMAC_KEY = env.str("AUDIT_HMAC_KEY", default="") or SECRET_KEY

# --- Security (production unless DEBUG) ---------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Logging ------------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOG_FORMAT = env.str("LOG_FORMAT", default=log_format_default(debug=DEBUG))
# One line per event, in one format, for every logger (Django's own, Celery's, ours).
LOGGING = logging_config(level=LOG_LEVEL, fmt=LOG_FORMAT)
