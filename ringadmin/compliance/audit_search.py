"""Filtering and paging the audit trail, for the auditors' page and its exports.

Filters come from a query string through ``AuditQuery.from_params``: a bad value gives a message
and is ignored. Dates are calendar days in the current time zone (``TIME_ZONE``, UTC by
default), ``to`` inclusive. Pages are keyset pages on the entry's unique ``sequence``: ``before``
and ``after`` carry a sequence number, so every page costs the same whatever its depth.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.db.models import QuerySet

from ringadmin.compliance.models import AuditEvent, AuditEventType
from ringadmin.compliance.selectors import audit_events_exportable_by, audit_events_visible_to
from ringadmin.query_params import (
    ParamErrors,
    check_date_order,
    day_end_exclusive,
    day_start,
    read_choice,
    read_date,
    read_number,
    read_text,
)

PAGE_SIZE = 50
MAX_ID = 2**63 - 1
_ACTOR = re.compile(r"[\w.@+-]{1,150}")


@dataclass(frozen=True)
class AuditQuery:
    """A validated audit trail filter; empty fields filter nothing."""

    date_from: date | None = None
    date_to: date | None = None
    actor: str = ""
    event_type: str = ""
    call_id: int | None = None
    before: int | None = None  # page: entries with a smaller sequence (older)
    after: int | None = None  # page: entries with a larger sequence (newer)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> tuple[AuditQuery, list[str]]:
        errors = ParamErrors()
        date_from, date_to = check_date_order(
            read_date(params, "from", "From date", errors),
            read_date(params, "to", "To date", errors),
            errors,
        )
        call_id = read_number(
            params, "call", "Call id", errors, minimum=1, maximum=MAX_ID, integer=True
        )
        before = read_number(
            params, "before", "Page", errors, minimum=1, maximum=MAX_ID, integer=True
        )
        after = read_number(
            params, "after", "Page", errors, minimum=0, maximum=MAX_ID, integer=True
        )
        if before is not None and after is not None:
            errors.add("Page", "a page is either before or after an entry")
            before = after = None
        query = cls(
            date_from=date_from,
            date_to=date_to,
            actor=read_text(params, "actor", "User", errors, max_length=150, pattern=_ACTOR),
            event_type=read_choice(
                params, "event_type", "Event", errors, choices=AuditEventType.values
            ),
            call_id=int(call_id) if call_id is not None else None,
            before=int(before) if before is not None else None,
            after=int(after) if after is not None else None,
        )
        return query, list(errors)

    def filter_params(self) -> dict[str, str]:
        """The filters as query parameters (no page), for links and the export's audit entry."""
        values = {
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "",
            "actor": self.actor,
            "event_type": self.event_type,
            "call": str(self.call_id) if self.call_id is not None else "",
        }
        return {k: v for k, v in values.items() if v}

    @property
    def querystring(self) -> str:
        return urlencode(self.filter_params())


def _filtered(events: QuerySet[AuditEvent], query: AuditQuery) -> QuerySet[AuditEvent]:
    if query.date_from is not None:
        events = events.filter(occurred_at__gte=day_start(query.date_from))
    if query.date_to is not None:
        events = events.filter(occurred_at__lt=day_end_exclusive(query.date_to))
    if query.actor:
        events = events.filter(actor_label=query.actor)
    if query.event_type:
        events = events.filter(event_type=query.event_type)
    if query.call_id is not None:
        events = events.filter(call_id=query.call_id)
    return events


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    older: int | None  # the ``before`` of the next (older) page
    newer: int | None  # the ``after`` of the previous (newer) page


def audit_page(
    *, user: AbstractUser | AnonymousUser, query: AuditQuery, page_size: int | None = None
) -> AuditPage:
    """One page of the entries the user may see, newest first."""
    page_size = page_size or PAGE_SIZE
    events = _filtered(audit_events_visible_to(user=user), query)
    if query.after is not None:
        rows = list(events.filter(sequence__gt=query.after).order_by("sequence")[: page_size + 1])
        more_newer = len(rows) > page_size
        rows = rows[:page_size][::-1]
        return AuditPage(
            events=rows,
            older=rows[-1].sequence if rows else None,
            newer=rows[0].sequence if rows and more_newer else None,
        )
    if query.before is not None:
        events = events.filter(sequence__lt=query.before)
    rows = list(events.order_by("-sequence")[: page_size + 1])
    more_older = len(rows) > page_size
    rows = rows[:page_size]
    return AuditPage(
        events=rows,
        older=rows[-1].sequence if rows and more_older else None,
        newer=rows[0].sequence if rows and query.before is not None else None,
    )


def audit_events_to_export(
    *, user: AbstractUser | AnonymousUser, query: AuditQuery
) -> QuerySet[AuditEvent]:
    """The filtered entries the user may export, oldest first (the chain's order). Pages ignored."""
    return _filtered(audit_events_exportable_by(user=user), query)
