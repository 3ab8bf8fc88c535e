"""Imports go ``monitoring → streaming → ringadmin``, never upward.

The core (``ringadmin/``) names the apps only in the project's wiring: settings, the ASGI and
URL entry points, the Celery application and the ``serve`` command. Streaming never imports
monitoring. Read from the source (every import, at any depth), not from what a test happened
to load.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ringadmin.compliance.roles import admin_apps
from tests.helpers import PROJECT_DIR

CORE_WIRING = {
    "ringadmin/settings",  # the package, whatever its modules
    "ringadmin/settings_test.py",
    "ringadmin/asgi.py",
    "ringadmin/urls.py",
    "ringadmin/celery.py",
    "ringadmin/management/commands/serve.py",
}


def imported_modules(path: Path) -> set[str]:
    """Modules a module imports anywhere in it (functions included), and those it names to
    ``include()``, ``import_module()`` or ``import_string()``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", None))
            in ("include", "import_module", "import_string")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return names


def imported_roots(path: Path) -> set[str]:
    return {name.split(".")[0] for name in imported_modules(path)}


def modules(package: str) -> list[Path]:
    found = sorted((PROJECT_DIR / package).rglob("*.py"))
    assert found
    return found


def relative(path: Path) -> str:
    return path.relative_to(PROJECT_DIR).as_posix()


def is_wiring(path: Path) -> bool:
    name = relative(path)
    return any(name == w or name.startswith(w + "/") for w in CORE_WIRING)


@pytest.mark.parametrize(
    "path", [p for p in modules("ringadmin") if not is_wiring(p)], ids=relative
)
def test_the_core_imports_no_app(path: Path) -> None:
    assert not imported_roots(path) & {"streaming", "monitoring"}


def test_the_wiring_is_where_the_apps_are_named() -> None:
    """The exemption above is the wiring, and the wiring does assemble the apps."""
    named = {relative(p) for p in modules("ringadmin") if is_wiring(p)}
    assert {"ringadmin/asgi.py", "ringadmin/urls.py"} <= named
    assert "streaming" in imported_roots(PROJECT_DIR / "ringadmin/asgi.py")
    assert "monitoring" in imported_roots(PROJECT_DIR / "ringadmin/urls.py")


@pytest.mark.parametrize("path", modules("streaming"), ids=relative)
def test_streaming_imports_neither_monitoring_nor_the_project_wiring(path: Path) -> None:
    imported = imported_modules(path)
    assert "monitoring" not in {name.split(".")[0] for name in imported}
    assert not {name for name in imported if name.startswith(("ringadmin.asgi", "ringadmin.urls"))}


@pytest.mark.django_db
def test_admins_manage_the_apps_that_say_so() -> None:
    """The roles name no app: each app's AppConfig declares that Admins manage its models."""
    assert admin_apps() == {"calls", "api_tokens", "streaming", "monitoring"}
