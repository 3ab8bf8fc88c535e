"""Shared fixtures; service-bound tests skip only when CI does not require the service."""

from __future__ import annotations

import os
import shutil
import socket

import pytest
from django.conf import settings

REQUIRE_SERVICES = os.environ.get("RINGADMIN_REQUIRE_SERVICES") == "1"
CHROMIUM = "/usr/bin/chromium"


def _service_missing(item: pytest.Item) -> str | None:
    if (
        item.get_closest_marker("needs_postgres")
        and settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql"
    ):
        return "needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/ringadmin"
    if item.get_closest_marker("needs_redis") and not settings.REDIS_URL:
        return "needs Redis: set REDIS_URL=redis://127.0.0.1:6379/0"
    if item.get_closest_marker("browser") and not shutil.which(CHROMIUM):
        return f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)"
    if item.get_closest_marker("needs_espeak") and not shutil.which("espeak-ng"):
        return "needs espeak-ng (apt-get install espeak-ng)"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    reason = _service_missing(item)
    if reason is None:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"RINGADMIN_REQUIRE_SERVICES=1 but this test {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def make_user(db):
    """Create a user in a role through the real service."""
    from ringadmin.compliance.roles import Role
    from ringadmin.compliance.users import user_create

    counter = iter(range(1, 10_000))

    def make(
        role: str = "supervisor", username: str | None = None, password: str = "pw-Long-enough-1"
    ):
        name = username or f"{role}{next(counter)}"
        return user_create(
            username=name,
            email=f"{name}@example.com",
            password=password,
            role=Role.from_name(role),
            validate=False,
        )

    return make


@pytest.fixture(autouse=True)
def _audit_checkpoints_in_tmp(settings, tmp_path):
    """Each test's audit checkpoints go to its own directory, never to the project's var/."""
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "audit-checkpoints"


@pytest.fixture(scope="session", autouse=True)
def _test_flush_may_empty_the_audit_trail():
    """On PostgreSQL a trigger refuses TRUNCATE of the audit table unless the session says it
    is maintenance; transactional tests end with a flush (TRUNCATE of every table), so the
    tests' flush, and only it, says so (see migration 0006 of compliance)."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.execute_sql_flush

    def flush(self, sql_list):
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT set_config('ringadmin.audit_maintenance', 'on', false)")
        try:
            original(self, sql_list)
        finally:
            with self.connection.cursor() as cursor:
                cursor.execute("SELECT set_config('ringadmin.audit_maintenance', '', false)")

    DatabaseOperations.execute_sql_flush = flush
    yield
    DatabaseOperations.execute_sql_flush = original
