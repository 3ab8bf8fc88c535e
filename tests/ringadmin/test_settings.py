from __future__ import annotations

import sys

from tests.helpers import PROJECT_DIR, manage, project_env


def _production_env(**extra: str | None) -> dict[str, str]:
    return project_env(
        DEBUG="false",
        ALLOWED_HOSTS="ringadmin.example.com",
        RINGADMIN_ENV_FILE="/nonexistent",
        **extra,
    )


def test_production_refuses_to_start_without_secret_key() -> None:
    import subprocess

    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=PROJECT_DIR,
        env=_production_env(SECRET_KEY=None, DJANGO_SETTINGS_MODULE="ringadmin.settings"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_check_deploy_is_clean_with_production_settings() -> None:
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env=_production_env(SECRET_KEY="k" * 20 + "-Very-Long-Random-Production-Key-9"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_debug_mode_runs_without_secret_key() -> None:
    result = manage(
        "check", env=project_env(DEBUG="true", SECRET_KEY=None, RINGADMIN_ENV_FILE="/nonexistent")
    )
    assert result.returncode == 0, result.stderr


def test_production_logs_are_json(tmp_path) -> None:
    import json
    import subprocess

    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('ringadmin.test').warning('hello token=abcdef123')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        env=_production_env(
            SECRET_KEY="x" * 50,
            LOG_FORMAT=None,
            VAR_DIR=str(tmp_path),
            DJANGO_SETTINGS_MODULE="ringadmin.settings",
        ),
    )
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["message"] == "hello token=[redacted]"
    assert line["level"] == "WARNING"
    assert "request_id" in line
