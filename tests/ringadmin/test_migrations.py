from __future__ import annotations

import os
import urllib.parse
import uuid

import pytest

from tests.helpers import manage, project_env


def _migrate_and_list(env: dict[str, str]) -> str:
    result = manage("migrate", "--noinput", env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    shown = manage("showmigrations", "--plan", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "[ ]" not in shown.stdout
    return shown.stdout


def test_migrations_apply_on_fresh_sqlite(tmp_path) -> None:
    env = project_env(
        DEBUG="true",
        DATABASE_URL=f"sqlite:///{tmp_path / 'fresh.sqlite3'}",
        VAR_DIR=str(tmp_path),
        REDIS_URL=None,
    )
    plan = _migrate_and_list(env)
    assert "compliance.0002_roles" in plan


@pytest.mark.needs_postgres
def test_migrations_apply_on_fresh_postgres(tmp_path) -> None:
    import psycopg

    base = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
    name = f"ringadmin_migtest_{uuid.uuid4().hex[:8]}"
    admin_url = base._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        env = project_env(
            DEBUG="true",
            DATABASE_URL=base._replace(path=f"/{name}").geturl(),
            VAR_DIR=str(tmp_path),
        )
        plan = _migrate_and_list(env)
        assert "compliance.0002_roles" in plan
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_one_migrate_gives_admins_the_permissions_of_every_app(tmp_path) -> None:
    """Regression: roles were synced before later apps' permissions existed."""
    env = project_env(
        DEBUG="true",
        DATABASE_URL=f"sqlite:///{tmp_path / 'roles.sqlite3'}",
        VAR_DIR=str(tmp_path),
        REDIS_URL=None,
    )
    assert manage("migrate", "--noinput", env=env, timeout=300).returncode == 0
    shown = manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import Group;"
        "print(sorted(p.codename for p in Group.objects.get(name='Admins').permissions.all()"
        " if p.content_type.app_label == 'streaming'))",
        env=env,
    )
    assert "change_streamingprofile" in shown.stdout, shown.stdout + shown.stderr
