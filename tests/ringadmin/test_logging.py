from __future__ import annotations

import json
import logging
import re
import subprocess
import sys

import pytest

from ringadmin.logging import (
    ContextFilter,
    JsonFormatter,
    RedactSecretsFilter,
    call_id_var,
    redact_text,
)
from tests.helpers import PROJECT_DIR, project_env


def _format(record: logging.LogRecord) -> dict:
    ContextFilter().filter(record)
    RedactSecretsFilter().filter(record)
    return json.loads(JsonFormatter().format(record))


def _record(msg: str, *args, **extra) -> logging.LogRecord:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, msg, args or None, None)
    record.__dict__.update(extra)
    return record


@pytest.mark.parametrize(
    "text",
    [
        "handshake ?callId=1&secret=hunter2hunter2&x=1",
        'body {"secret": "hunter2hunter2"}',
        "Authorization: Bearer hunter2hunter2",
        "token=hunter2hunter2",
        "client_secret='hunter2hunter2'",
    ],
)
def test_secrets_in_messages_are_masked(text: str) -> None:
    assert "hunter2hunter2" not in redact_text(text)
    assert "[redacted]" in redact_text(text)


def test_json_lines_carry_context_and_hide_secret_extras() -> None:
    token = call_id_var.set("call-42")
    try:
        line = _format(
            _record(
                "start %s",
                "secret=abcabcabc",
                profile_secret="abcabcabc",
                params={"callId": "42", "token": "abcabcabc"},
            )
        )
    finally:
        call_id_var.reset(token)
    assert line["call_id"] == "call-42"
    assert line["level"] == "INFO"
    assert "abcabcabc" not in json.dumps(line)
    assert line["params"] == {"callId": "42", "token": "[redacted]"}


def test_request_id_header_is_returned(client, db) -> None:
    response = client.get("/login/", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"
    generated = client.get("/login/", HTTP_X_REQUEST_ID="bad id with spaces")["X-Request-ID"]
    assert generated != "bad id with spaces"
    assert len(generated) == 32


# --- One line per event, through the real settings' logging configuration -----------------------

# Loggers whose events used to print twice or in another format: Django's own (its default
# console handler), Celery's, and ours.
EVENTS = (
    ("django.request", "warning"),
    ("django.security.DisallowedHost", "error"),
    ("django", "info"),
    ("celery.worker", "warning"),
    ("streaming.ingest", "info"),
    ("ringadmin.vendors", "info"),
)
EMIT_EVENTS = """
import logging
for index, (name, level) in enumerate({events!r}):
    getattr(logging.getLogger(name), level)("event-%d-marker", index)
"""


def _events_printed(tmp_path, *, debug: str, log_format: str | None, setup: str) -> list[str]:
    """Every line a process with the real settings writes, when each event is logged once."""
    code = (
        "import django; django.setup()\n"
        + setup
        + EMIT_EVENTS.format(events=EVENTS)
        + "print('printed-line', flush=True)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        env=project_env(
            DJANGO_SETTINGS_MODULE="ringadmin.settings",
            RINGADMIN_ENV_FILE="/nonexistent",
            DEBUG=debug,
            SECRET_KEY="x" * 50,
            ALLOWED_HOSTS="ringadmin.example.com",
            LOG_FORMAT=log_format,
            LOG_LEVEL="INFO",
            VAR_DIR=str(tmp_path),
        ),
    )
    assert result.returncode == 0, result.stderr
    return (result.stdout + result.stderr).splitlines()


CELERY_WORKER_SETUP = (
    # What a Celery worker and beat do at start (with the worker's stdout redirection).
    "from ringadmin.celery import app\n"
    "app.log.setup(loglevel='INFO', redirect_stdouts=True, redirect_level='WARNING')\n"
)


@pytest.mark.parametrize(
    ("debug", "log_format", "expected"),
    [
        ("true", None, "text"),  # make run
        ("false", None, "json"),  # production
        ("true", "json", "json"),
        ("false", "text", "text"),
    ],
)
@pytest.mark.parametrize("process", ["django", "celery"])
def test_one_line_per_event_in_the_configured_format(
    tmp_path, debug: str, log_format: str | None, expected: str, process: str
) -> None:
    setup = CELERY_WORKER_SETUP if process == "celery" else ""
    lines = _events_printed(tmp_path, debug=debug, log_format=log_format, setup=setup)
    for index, (name, level) in enumerate(EVENTS):
        marker = f"event-{index}-marker"
        printed = [line for line in lines if marker in line]
        assert len(printed) == 1, f"{name}: {printed} in\n" + "\n".join(lines)
        (line,) = printed
        if expected == "json":
            record = json.loads(line)
            assert (record["name"], record["level"]) == (name, level.upper())
        else:
            assert re.match(
                rf"^\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ {level.upper()} +{name} ", line
            )
    # print() stays a plain line on stdout, not a log record
    assert [line for line in lines if "printed-line" in line] == ["printed-line"]
