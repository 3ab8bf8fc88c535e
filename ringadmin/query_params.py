"""Parsing the filters of list pages from a query string: every value checked, none trusted.

A list page must never fail because of its query string: a bad value becomes a message the page
shows ("… was ignored") and the filter is left out, so the rest of the page still works. The
readers here turn one raw value into a typed one or an error sentence; each page's own query
class (the calls list, the audit trail) decides which parameters exist.

Dates are calendar days in the current time zone (``TIME_ZONE``, UTC by default, or a zone a
middleware activates for the user): ``from`` is the start of that day there, ``to`` is
inclusive (the end of that day there).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core import signing
from django.utils import timezone

MAX_VALUE_LENGTH = 200
# Calendar years a date filter may name: enough for any call record, and far from the limits of
# datetime arithmetic (a year 9999 "to" date plus one day would overflow).
MIN_YEAR, MAX_YEAR = 1970, 9000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ParamErrors(list[str]):
    """The messages of one parse, in the order the parameters were read; ``by_param`` keeps
    them per query parameter too (an API answers a 400 naming each bad parameter)."""

    def __init__(self) -> None:
        super().__init__()
        self.by_param: dict[str, list[str]] = {}

    def add(
        self,
        label: str,
        problem: str,
        *,
        param: str = "",
        consequence: str = "this filter was ignored",
    ) -> None:
        self.append(f"{label}: {problem} — {consequence}.")
        self.by_param.setdefault(param or label, []).append(f"{label}: {problem}.")


def raw_value(params: Mapping[str, Any], name: str) -> str:
    """The last value of ``name``, stripped; "" when absent. QueryDicts and plain dicts alike."""
    getter = getattr(params, "get", None)
    value = getter(name, "") if getter is not None else ""
    if isinstance(value, list):  # a plain dict of lists, as parse_qs gives
        value = value[-1] if value else ""
    return str(value).strip()


def read_text(
    params: Mapping[str, Any],
    name: str,
    label: str,
    errors: ParamErrors,
    *,
    max_length: int = 64,
    pattern: re.Pattern[str] | None = None,
) -> str:
    """A short free-text value (an id, a phone number), or "" if absent or invalid."""
    value = raw_value(params, name)
    if not value:
        return ""
    if len(value) > max_length:
        errors.add(label, f"longer than {max_length} characters", param=name)
        return ""
    if _CONTROL.search(value):
        errors.add(label, "contains control characters", param=name)
        return ""
    if pattern is not None and not pattern.fullmatch(value):
        errors.add(label, f"“{value}” is not a valid value", param=name)
        return ""
    return value


def read_choice(
    params: Mapping[str, Any],
    name: str,
    label: str,
    errors: ParamErrors,
    *,
    choices: Mapping[str, Any] | list[str] | tuple[str, ...],
) -> str:
    """One of ``choices`` or ""."""
    value = raw_value(params, name)
    if not value:
        return ""
    if value not in choices:
        shown = value if len(value) <= 40 and not _CONTROL.search(value) else "that value"
        errors.add(label, f"“{shown}” is not one of the choices", param=name)
        return ""
    return value


def read_bool(params: Mapping[str, Any], name: str, label: str, errors: ParamErrors) -> bool | None:
    """``yes``/``no`` (also true/false, 1/0, on/off) → True/False; absent or "any" → None."""
    value = raw_value(params, name).lower()
    if value in ("", "any"):
        return None
    if value in ("yes", "true", "1", "on"):
        return True
    if value in ("no", "false", "0", "off"):
        return False
    errors.add(label, "choose yes, no or any", param=name)
    return None


def read_number(
    params: Mapping[str, Any],
    name: str,
    label: str,
    errors: ParamErrors,
    *,
    minimum: float = 0,
    maximum: float = 1_000_000,
    integer: bool = False,
) -> float | int | None:
    """A finite number within [minimum, maximum], or None."""
    value = raw_value(params, name)
    if not value:
        return None
    if len(value) > 20:
        errors.add(label, "is not a number", param=name)
        return None
    try:
        number: float | int = int(value) if integer else float(value)
    except ValueError:
        errors.add(label, "is not a whole number" if integer else "is not a number", param=name)
        return None
    if number != number or not (minimum <= number <= maximum):  # NaN, inf, out of range
        errors.add(label, f"must be between {minimum:g} and {maximum:g}", param=name)
        return None
    return number


def read_date(params: Mapping[str, Any], name: str, label: str, errors: ParamErrors) -> date | None:
    """A calendar day written YYYY-MM-DD (what ``<input type=date>`` sends), or None."""
    value = raw_value(params, name)
    if not value:
        return None
    if len(value) != 10:
        errors.add(label, "use a date like 2025-01-31", param=name)
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        errors.add(label, "use a date like 2025-01-31", param=name)
        return None
    if not (MIN_YEAR <= day.year <= MAX_YEAR):
        errors.add(label, f"the year must be between {MIN_YEAR} and {MAX_YEAR}", param=name)
        return None
    return day


def day_start(day: date) -> datetime:
    """The first instant of ``day`` in the current time zone (an aware datetime)."""
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def day_end_exclusive(day: date) -> datetime:
    """The first instant after ``day`` in the current time zone: ``to`` dates are inclusive."""
    return day_start(day + timedelta(days=1))


def check_date_order(
    start: date | None, end: date | None, errors: ParamErrors, label: str = "Dates"
) -> tuple[date | None, date | None]:
    """Both bounds, unless they are reversed (then neither, with a message)."""
    if start is not None and end is not None and start > end:
        errors.add(label, "“from” is after “to”", param="to")
        return None, None
    return start, end


def sign_cursor(payload: dict[str, Any], *, salt: str) -> str:
    """An opaque, tamper-proof page cursor: clients cannot forge a position or a sort."""
    return signing.dumps(payload, salt=salt, compress=True)


def unsign_cursor(value: str, *, salt: str) -> dict[str, Any] | None:
    """The payload of a cursor this server signed, or None for anything else."""
    if not value or len(value) > 500:
        return None
    try:
        payload = signing.loads(value, salt=salt)
    except (signing.BadSignature, ValueError, TypeError, UnicodeError):
        return None
    return payload if isinstance(payload, dict) else None
