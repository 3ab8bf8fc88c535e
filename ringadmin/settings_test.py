"""Settings for the test suite: the real settings, with a fixed key and fast hashing.

``DATABASE_URL`` / ``REDIS_URL`` are honoured, so the same suite runs on PostgreSQL and Redis.
"""

import os
import secrets
import tempfile
from pathlib import Path

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-" + "x" * 40)
os.environ.setdefault("DEBUG", "false")
# A directory of this run's own (made at start, like every directory the settings name).
os.environ.setdefault(
    "VAR_DIR", str(Path(tempfile.gettempdir()) / f"ringadmin-test-var-{secrets.token_hex(8)}")
)
os.environ.setdefault("LOG_FORMAT", "text")
# A unique Redis prefix per test run, so two runs on one Redis never share keys.
os.environ.setdefault("REDIS_KEY_PREFIX", f"ringadmin-test-{os.getpid()}")

from ringadmin.settings import *  # noqa: F403

ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
SECURE_SSL_REDIRECT = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
CELERY_TASK_ALWAYS_EAGER = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not shared-cache memory: tests that use real threads (the ingest) then wait on
    # locks like production does instead of failing with "table is locked".
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}  # noqa: F405
# Connections opened in worker threads (the ingest's database_sync_to_async) are closed after
# each use, so none is left holding the test database when it is dropped.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
# No live transcription worker runs under the unit tests (the live tests start their own), and
# post-call transcription is switched on by the tests that exercise it.
LIVE_TRANSCRIPTION = False
TRANSCRIPTION_ENGINE = "none"
