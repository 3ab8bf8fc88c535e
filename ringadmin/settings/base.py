"""The project's own settings, for every environment, read through one ``env``.

Defaults are the embedded ones (SQLite, in-memory channel layer, a file-system Celery broker)
so ``make run`` needs no service. Setting ``DATABASE_URL`` / ``REDIS_URL`` switches to
PostgreSQL and Redis. ``DEBUG`` is off unless asked for (``security``). Directories named here
are made when a process starts (``ringadmin.apps.ensure_dirs``), not on import.
"""

from __future__ import annotations

from pathlib import Path

import environ

from ringadmin.logging import log_format_default, logging_config

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
ENV_FILE = env.str("RINGADMIN_ENV_FILE", default=str(BASE_DIR / ".env"))
if Path(ENV_FILE).is_file():
    environ.Env.read_env(ENV_FILE, overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var"))).resolve()

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
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "ringadmin.apps.RingadminConfig",
    "ringadmin.calls.apps.CallsConfig",
    "ringadmin.compliance.apps.ComplianceConfig",
    "ringadmin.api_tokens.apps.ApiTokensConfig",
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
    "ringadmin.compliance.middleware.AuditClientMiddleware",
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
# Late acknowledgement is set per task, only on tasks that are idempotent.
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
    "retention-purge": {
        "task": "streaming.retention_purge",
        "schedule": env.float("RETENTION_PURGE_SECONDS", default=3600.0),
    },
    "audit-checkpoint": {
        "task": "compliance.audit_checkpoint",
        "schedule": env.float("AUDIT_CHECKPOINT_SECONDS", default=3600.0),
    },
}
# --- Retention ----------------------------------------------------------------------------------
# A streaming profile's retention_days of 0 means this default; calls of no current profile too.
RETENTION_DAYS_DEFAULT = env.int("RETENTION_DAYS_DEFAULT", default=365)
RETENTION_PURGE_BATCH = env.int("RETENTION_PURGE_BATCH", default=500)

# --- Files --------------------------------------------------------------------------------------
RECORDINGS_DIR = Path(env.str("RECORDINGS_DIR", default=str(VAR_DIR / "recordings"))).resolve()
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"  # made at start when served from the finders (DEBUG)
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

# --- Auth ---------------------------------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Password rules, lockout and session expiry: ``signin``.

# --- Logging ------------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOG_FORMAT = env.str("LOG_FORMAT", default=log_format_default(debug=DEBUG))
# One line per event, in one format, for every logger (Django's own, Celery's, ours).
LOGGING = logging_config(level=LOG_LEVEL, fmt=LOG_FORMAT)
