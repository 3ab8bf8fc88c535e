from __future__ import annotations

import json
import logging

import pytest

from ringadmin.logging import (
    ContextFilter,
    JsonFormatter,
    RedactSecretsFilter,
    call_id_var,
    redact_text,
)


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
