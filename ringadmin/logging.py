"""Structured logging: a request or call id on every line, and no secret ever written.

``request_id`` and ``call_id`` live in context variables, so they follow a request or a call
through async code and threads started with ``contextvars.copy_context``.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from collections.abc import Callable
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
call_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("call_id", default="-")

SECRET_KEYS = re.compile(
    r"(secret|token|password|passwd|authorization|assertion|api[_-]?key|jwt|cookie)", re.I
)
# The names a stream's secret is accepted under (query parameters and message fields), compared
# lower-case without "_" and "-". The ingest accepts a secret under exactly these, and every log
# line, stored copy and page masks the values of these names (and of any name SECRET_KEYS
# matches): one list for both, so nothing accepted as a secret is ever written in clear.
SECRET_NAMES = frozenset(
    {"secret", "token", "authtoken", "accesstoken", "auth", "key", "apikey", "authorization"}
)
# name=value, name: value, "name": "value"; the name decides (is_secret_name).
_KEY_VALUE_IN_TEXT = re.compile(
    r"""(?P<key>["']?(?P<name>[\w-]+)["']?\s*[=:]\s*)(?P<quote>["']?)(?:Bearer\s+)?[^\s"'&,;}]+""",
    re.I,
)
# Words every secret name contains: a substring test lets most lines skip the slower pattern.
_SECRET_HINTS = ("secret", "token", "passw", "auth", "assertion", "key", "jwt", "cookie")
REDACTED = "[redacted]"


def secret_name_squash(name: str) -> str:
    """How names are compared with SECRET_NAMES: lower-case, without "_" and "-"."""
    return name.lower().replace("_", "").replace("-", "")


def is_secret_name(name: str) -> bool:
    """Is a value under this name to be masked?"""
    return secret_name_squash(name) in SECRET_NAMES or SECRET_KEYS.search(name) is not None


def _mask(match: re.Match) -> str:
    if not is_secret_name(match.group("name")):
        return match.group(0)
    return f"{match.group('key')}{match.group('quote')}{REDACTED}"


def redact_text(text: str) -> str:
    """Mask the value of every secret-looking ``key=value`` in free text."""
    squashed = secret_name_squash(text)
    if not any(hint in squashed for hint in _SECRET_HINTS):
        return text
    return _KEY_VALUE_IN_TEXT.sub(_mask, text)


def redact_mapping(data: Any) -> Any:
    """A copy of ``data`` with the values of secret-looking keys masked, recursively."""
    if isinstance(data, dict):
        return {
            k: (REDACTED if isinstance(k, str) and is_secret_name(k) else redact_mapping(v))
            for k, v in data.items()
        }
    if isinstance(data, list | tuple):
        return type(data)(redact_mapping(v) for v in data)
    return data


class ContextFilter(logging.Filter):
    """Adds ``request_id`` and ``call_id`` to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = getattr(record, "request_id", None) or request_id_var.get()
        record.call_id = getattr(record, "call_id", None) or call_id_var.get()
        return True


class RedactSecretsFilter(logging.Filter):
    """Masks secrets in the formatted message and in structured extras."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the line
            message = str(record.msg)
        record.msg = redact_text(message)
        record.args = None
        for key, value in list(record.__dict__.items()):
            if key in _STANDARD_ATTRS:
                continue
            if is_secret_name(key):
                record.__dict__[key] = REDACTED
            elif isinstance(value, dict | list):
                record.__dict__[key] = redact_mapping(value)
            elif isinstance(value, str):
                record.__dict__[key] = redact_text(value)
        return True


class RefusalFilter(logging.Filter):
    """A refused request is one line, without a traceback.

    Django logs a 403 from ``PermissionDenied``, a 400 from ``BadRequest`` and every
    ``SuspiciousOperation`` (a forged Host header…) with the exception's traceback: for an
    expected refusal it only repeats Django's own call stack, many lines per bot or curious
    user. Any 4xx answer keeps its line (and the exception's message, when it adds one);
    errors (5xx) keep their traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if (
            record.exc_info
            and isinstance(status, int)
            and 400 <= status < 500
            and record.name.startswith(("django.request", "django.security"))
        ):
            exception = record.exc_info[1]
            reason = str(exception) if exception is not None else ""
            message = record.getMessage()
            if reason and reason not in message:
                record.msg, record.args = f"{message} ({reason})", None
            record.exc_info = None
            record.exc_text = None
        return True


_STANDARD_ATTRS = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {
    "message",
    "asctime",
    "request_id",
    "call_id",
}


class JsonFormatter(_BaseJsonFormatter):
    """One JSON object per line with time, level, logger, message and context ids."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault(
            "fmt", "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(call_id)s"
        )
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level"})
        kwargs.setdefault("datefmt", "%Y-%m-%dT%H:%M:%S%z")
        super().__init__(*args, **kwargs)


TEXT_FORMAT = (
    "%(asctime)s %(levelname)-7s %(name)s [req=%(request_id)s call=%(call_id)s] %(message)s"
)


def logging_config(*, level: str, fmt: str) -> dict[str, Any]:
    """The logging configuration of every process (``settings.LOGGING``, and the live
    transcription worker, which runs without Django): one handler on the root logger, so each
    event is one line, ``text`` or ``json``.

    Django's default configuration gives the ``django`` logger a console handler of its own
    (active when DEBUG) that would print each of its events a second time, plainly; it is
    removed, and those events reach the root handler like every other.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "refusal": {"()": "ringadmin.logging.RefusalFilter"},
            "context": {"()": "ringadmin.logging.ContextFilter"},
            "redact": {"()": "ringadmin.logging.RedactSecretsFilter"},
        },
        "formatters": {
            "json": {"()": "ringadmin.logging.JsonFormatter"},
            "text": {"format": TEXT_FORMAT},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "filters": ["refusal", "context", "redact"],
                "formatter": fmt if fmt in ("json", "text") else "json",
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django": {"handlers": []},  # no second, plain copy of Django's events
            # Refusals lose their traceback on the record itself, before any handler sees it:
            # every handler (an error tracker, a test's log capture) gets the one line.
            "django.request": {"filters": ["refusal"]},
            "django.db.backends": {"level": "WARNING"},
            "daphne": {"level": "WARNING"},
            "websockets": {"level": "WARNING"},  # one line per connection otherwise
            "httpx": {"level": "WARNING"},  # our vendor clients log each call themselves
            "faster_whisper": {"level": "WARNING"},  # a line per channel transcribed
            "httpcore": {"level": "WARNING"},
            "axes": {"level": "WARNING"},  # sign-ins are audited; lockouts still log
            "celery": {"level": level},
        },
    }


def log_format_default(*, debug: bool) -> str:
    """``text`` for a developer's terminal (DEBUG), ``json`` for production's log collectors."""
    return "text" if debug else "json"


class RequestIdMiddleware:
    """Gives each request an id (the caller's ``X-Request-ID`` when sane) for its log lines."""

    _VALID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if self._VALID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
            if response.status_code >= 400:
                from django.utils.log import log_response

                # Django's handler logs such answers after every middleware has returned, where
                # the request id is gone; logged here, the line carries it (Django then skips it).
                log_response(
                    "%s: %s",
                    response.reason_phrase,
                    request.path,
                    response=response,
                    request=request,
                )
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response
