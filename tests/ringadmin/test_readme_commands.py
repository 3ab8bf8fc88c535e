"""Every command the README shows exists and takes the options it is shown with.

The commands are read from the README itself, so a renamed command or option, or a README
example that drifts from the code, fails here. Running them for real from a new terminal is
in ``test_make_run.py``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

import pytest
from django.core.management import get_commands, load_command_class

from tests.helpers import PROJECT_DIR, fresh_terminal_env

README = (PROJECT_DIR / "README.md").read_text()
# Continuation lines joined; `…` placeholders and [optional] brackets kept (options inside
# brackets are options too).
TEXT = README.replace("\\\n", " ")
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def _examples(pattern: str) -> list[tuple[str, str]]:
    """(name, the rest of the line or code span) for each ``pattern`` match in the README."""
    found = []
    for match in re.finditer(pattern + r"([^`\n#]*)", TEXT):
        found.append((match.group(1), match.group(2)))
    return found


MANAGE_EXAMPLES = _examples(r"manage\.py ([a-z_]+)")
MODULE_EXAMPLES = _examples(r"python -m\s+([a-z_][\w.]*)")


def _parser_for(command: str, rest: str) -> tuple[argparse.ArgumentParser, str]:
    app = get_commands()[command]
    parser = load_command_class(app, command).create_parser("manage.py", command)
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subparsers:
        return parser, rest
    words = rest.split()
    if not words:  # the command named alone, e.g. in a heading
        return parser, rest
    sub = words[0]
    assert sub in subparsers[0].choices, f"`manage.py {command} {sub}`: no such subcommand"
    return subparsers[0].choices[sub], " ".join(words[1:])


def test_the_readme_shows_commands() -> None:
    """Guards the extraction itself: an empty list would make the tests below vacuous."""
    names = {name for name, _ in MANAGE_EXAMPLES}
    assert {"ringcx_simulate", "streaming_profile", "calls", "create_user", "transcribe"} <= names
    assert {"streaming.ingest_server", "streaming.transcription.live_worker"} <= {
        name for name, _ in MODULE_EXAMPLES
    }


@pytest.mark.parametrize(("command", "rest"), MANAGE_EXAMPLES, ids=lambda v: v[:40])
def test_manage_command_as_the_readme_shows_it(command: str, rest: str) -> None:
    assert command in get_commands(), f"README shows `manage.py {command}`, which does not exist"
    parser, rest = _parser_for(command, rest)
    known = set(parser._option_string_actions)
    for option in OPTION.findall(rest):
        assert option in known, f"`manage.py {command}` takes no {option} (README: {rest!r})"


def test_modules_the_readme_runs_with_python_m_take_their_options() -> None:
    by_module: dict[str, set[str]] = {}
    for module, rest in MODULE_EXAMPLES:
        by_module.setdefault(module, set()).update(OPTION.findall(rest))
    env = fresh_terminal_env()
    for module, options in sorted(by_module.items()):
        result = subprocess.run(
            [sys.executable, "-m", module, "--help"],
            cwd=PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"python -m {module} --help: {result.stderr[-2000:]}"
        for option in options:
            assert option in result.stdout, f"python -m {module} takes no {option}"
