"""The audit trail's query parameters, parsed strictly: a bad value is a 400 naming the
parameter. (The calls list reads the calls page's own search, ``monitoring.call_search``.)"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from ringadmin.compliance.models import AuditEvent, AuditEventType

MAX_TEXT = 64
_PHONE = re.compile(r"[0-9+*#]{1,64}")
_PRINTABLE = re.compile(r"[^\x00-\x1f\x7f]{1,64}")
_DATE_ONLY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Far outside any call; keeps time-zone arithmetic away from year 1 and 9999.
YEARS = range(1900, 9000)


class QueryError(ValueError):
    """Parameters that cannot be honoured: ``errors`` maps each parameter to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


def _when(value: str, *, end: bool) -> datetime:
    """``YYYY-MM-DD`` (a whole day: ``to`` takes in the day's end) or an ISO 8601 date-time;
    without an offset, in the display time zone."""
    if _DATE_ONLY.fullmatch(value):
        day = date.fromisoformat(value)
        moment = datetime.combine(day + timedelta(days=1) if end else day, time.min)
    else:
        if len(value) > MAX_TEXT or not value[:4].isdigit():
            raise ValueError(value)
        moment = datetime.fromisoformat(value)
    if moment.year not in YEARS:
        raise ValueError(value)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_current_timezone())
    return moment


def _text(params: Mapping[str, str], name: str) -> str:
    value = params.get(name) or ""
    return value.strip()


def _period(
    params: Mapping[str, str], errors: dict[str, list[str]]
) -> tuple[datetime | None, datetime | None]:
    bounds: dict[str, datetime | None] = {}
    for name in ("from", "to"):
        value = _text(params, name)
        bounds[name] = None
        if not value:
            continue
        try:
            bounds[name] = _when(value, end=name == "to")
        except (ValueError, OverflowError):
            errors[name] = ["Use a date (2026-01-31) or an ISO 8601 date-time."]
    start, end = bounds["from"], bounds["to"]
    if start is not None and end is not None and end <= start:
        errors["to"] = ["Must be after “from”."]
    return start, end


@dataclass(frozen=True)
class AuditEventQuery:
    start: datetime | None = None
    end: datetime | None = None
    event_type: str = ""
    actor: str = ""  # username, or "system"
    call_id: int | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> AuditEventQuery:
        errors: dict[str, list[str]] = {}
        start, end = _period(params, errors)
        event_type = _text(params, "event_type")
        if event_type and event_type not in AuditEventType.values:
            errors["event_type"] = ["Not an audit event type (see the schema's enum)."]
        actor = _text(params, "actor")
        if actor and not _PRINTABLE.fullmatch(actor):
            errors["actor"] = [f"A username of at most {MAX_TEXT} printable characters."]
        call = _text(params, "call")
        call_id = None
        if call:
            if call.isascii() and call.isdigit() and len(call) <= 18:
                call_id = int(call)
            else:
                errors["call"] = ["A call id (a whole number)."]
        if errors:
            raise QueryError(errors)
        return cls(start, end, event_type, actor, call_id)

    def apply(self, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        if self.start is not None:
            events = events.filter(occurred_at__gte=self.start)
        if self.end is not None:
            events = events.filter(occurred_at__lt=self.end)
        if self.event_type:
            events = events.filter(event_type=self.event_type)
        if self.actor:
            events = events.filter(actor_label=self.actor)
        if self.call_id is not None:
            events = events.filter(call_id=self.call_id)
        return events
