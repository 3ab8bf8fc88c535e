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


def _embedded_env(var_dir, **extra: str | None) -> dict[str, str]:
    """Development on the embedded defaults: SQLite and the file broker under ``var_dir``."""
    return project_env(
        DEBUG="true",
        SECRET_KEY=None,
        RINGADMIN_ENV_FILE="/nonexistent",
        VAR_DIR=str(var_dir),
        DATABASE_URL=None,
        REDIS_URL=None,
        **extra,
    )


def _python(code: str, env: dict[str, str]):
    import subprocess

    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_importing_the_settings_makes_no_directory(tmp_path) -> None:
    var_dir = tmp_path / "var"
    result = _python("import ringadmin.settings", _embedded_env(var_dir))
    assert result.returncode == 0, result.stderr
    assert not var_dir.exists()


def test_a_starting_process_makes_the_directories_it_needs(tmp_path) -> None:
    """SQLite's, the embedded broker's and (served from the finders) STATIC_ROOT: a task sent
    through the file broker lands in its queue."""
    var_dir = tmp_path / "var"
    code = (
        "import django; django.setup(); "
        "from ringadmin.celery import app; "
        "app.send_task('streaming.call_postprocess', args=[1])"
    )
    result = _python(code, _embedded_env(var_dir, DJANGO_SETTINGS_MODULE="ringadmin.settings"))
    assert result.returncode == 0, result.stderr
    for folder in ("queue", "control", "processed"):
        assert (var_dir / "celery-broker" / folder).is_dir()
    assert (var_dir / "static").is_dir()
    assert len(list((var_dir / "celery-broker" / "queue").iterdir())) == 1
    migrated = manage("migrate", "--noinput", env=_embedded_env(tmp_path / "other"))
    assert migrated.returncode == 0, migrated.stderr
    assert (tmp_path / "other" / "ringadmin.sqlite3").is_file()


def test_production_makes_no_static_root(tmp_path) -> None:
    """Production's manifest storage needs collectstatic, which makes STATIC_ROOT: an empty
    one made at start would hide that it was not run."""
    env = _production_env(SECRET_KEY="x" * 50, VAR_DIR=str(tmp_path / "var"))
    result = _python(
        "import django; django.setup()", {**env, "DJANGO_SETTINGS_MODULE": "ringadmin.settings"}
    )
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "var" / "static").exists()


def _assignments_to_settings(path) -> list[str]:
    """``settings.NAME = …``, ``setattr(settings, …)`` and writes to ``os.environ``."""
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        targets = []
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            base = target.value if isinstance(target, ast.Attribute | ast.Subscript) else None
            if isinstance(base, ast.Name) and base.id == "settings":
                found.append(f"{path}:{node.lineno}")
            if isinstance(base, ast.Attribute) and ast.unparse(base) == "os.environ":
                found.append(f"{path}:{node.lineno}")
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            first = ast.unparse(node.args[0]) if node.args else ""
            if (name == "setattr" and first == "settings") or name == "os.environ.update":
                found.append(f"{path}:{node.lineno}")
    return found


def test_nothing_changes_the_settings_while_running() -> None:
    """Settings are read from the environment at start and never changed: a child process
    gets what it must know through its own environment or arguments."""
    found = []
    for package in ("ringadmin", "streaming", "monitoring"):
        for path in sorted((PROJECT_DIR / package).rglob("*.py")):
            if not path.relative_to(PROJECT_DIR).as_posix().startswith("ringadmin/settings"):
                found += _assignments_to_settings(path)
    assert found == []
