"""Searching the calls a user may see: filters, full-text search and keyset pagination.

Read by the calls list page and by the JSON API; ``calls_visible_to`` scopes every query.

- Filters come from a query string through ``CallQuery.from_params``: a bad value gives a
  message and is ignored, never an error page.
- Dates are calendar days in the current time zone (``TIME_ZONE``, UTC by default); ``to`` is
  inclusive.
- Pages are keyset pages: a signed cursor holds the last row's (sort value, id), and the next
  page is "rows after it in this order", which an index on (sort key, id) answers as fast on
  page 10,000 as on page 1. There is no page number and no full COUNT; the total is counted up
  to ``COUNT_CAP`` only, and not at all for a full-text search (counting even a few hundred
  matches of a common word costs many times the page itself).
- Sorting by duration lists calls that have one (ended calls); sorting by an analysis measure
  lists analysed calls only (a call without a measure has no place in that order).
- Full-text search matches transcript lines and shows each call's first matching line
  (``monitoring/transcript_search.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Literal
from urllib.parse import urlencode

from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.db.models import (
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
)
from django.db.models.lookups import GreaterThanOrEqual
from django.utils import timezone

from monitoring.transcript_search import (
    MatchedLine,
    calls_matching_condition,
    first_matching_lines,
)
from ringadmin.calls.models import Call, CallAnalysis, CallStatus
from ringadmin.calls.selectors import calls_visible_to
from ringadmin.query_params import (
    ParamErrors,
    check_date_order,
    day_end_exclusive,
    day_start,
    read_bool,
    read_choice,
    read_date,
    read_number,
    read_text,
    sign_cursor,
    unsign_cursor,
)
from streaming.models import Transcript, TranscriptStatus

PAGE_SIZE = 50
COUNT_CAP = 10_000
CURSOR_SALT = "monitoring.call_search.cursor"
PRODUCT_TYPES = ("Queue", "Campaign", "Manual")


_IDENTIFIER = re.compile(r"[\w.@:+-]{1,64}")
_PHONE = re.compile(r"[\w+*#() .-]{1,64}")


@dataclass(frozen=True)
class SortKey:
    """A column the list can be ordered by, with what a row needs to have a place in it."""

    name: str
    label: str
    order_field: str
    value_kind: Literal["datetime", "float", "int", "str"]
    requires: Q | None = None


SORT_KEYS: dict[str, SortKey] = {
    key.name: key
    for key in (
        SortKey("started", "Started", "started_at", "datetime"),
        SortKey(
            "duration",
            "Duration",
            "duration_seconds",
            "float",
            Q(duration_seconds__isnull=False),
        ),
        SortKey("agent", "Agent", "agent_id", "str"),
        SortKey("status", "Status", "status", "str"),
        SortKey(
            "overtalk",
            "Overtalk",
            "analysis__overtalk_seconds",
            "float",
            Q(analysis__isnull=False),
        ),
        SortKey(
            "monologue",
            "Longest monologue",
            "analysis__longest_monologue_seconds",
            "float",
            Q(analysis__isnull=False),
        ),
        SortKey(
            "interruptions",
            "Interruptions",
            "interruptions_total",
            "int",
            Q(analysis__isnull=False),
        ),
    )
}
SORT_CHOICES = tuple(f"{sign}{name}" for name in SORT_KEYS for sign in ("-", ""))
DEFAULT_SORT = "-started"


@dataclass(frozen=True)
class Cursor:
    """A position in one ordering: the row's sort value and id, and which way to read."""

    sort: str
    value: Any
    pk: int
    backwards: bool = False


@dataclass(frozen=True)
class CallQuery:
    """A validated calls search. Every field is optional; empty means "no filter"."""

    date_from: date | None = None
    date_to: date | None = None
    agent: str = ""
    caller: str = ""
    dialled: str = ""
    product_type: str = ""
    product_id: str = ""
    status: str = ""
    has_recording: bool | None = None
    has_transcript: bool | None = None
    min_overtalk: float | None = None
    min_monologue: float | None = None
    min_interruptions: int | None = None
    text: str = ""
    sort: str = DEFAULT_SORT
    cursor: Cursor | None = field(default=None, compare=False)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> tuple[CallQuery, ParamErrors]:
        """Read a query string; return the query of every valid value and a message per bad one."""
        errors = ParamErrors()
        date_from, date_to = check_date_order(
            read_date(params, "from", "From date", errors),
            read_date(params, "to", "To date", errors),
            errors,
        )
        min_interruptions = read_number(
            params, "min_interruptions", "Minimum interruptions", errors, integer=True
        )
        query = cls(
            date_from=date_from,
            date_to=date_to,
            agent=read_text(params, "agent", "Agent", errors, pattern=_IDENTIFIER),
            caller=read_text(params, "caller", "Caller", errors, pattern=_PHONE),
            dialled=read_text(params, "dialled", "Dialled number", errors, pattern=_PHONE),
            product_type=read_choice(
                params, "product_type", "Queue or campaign", errors, choices=PRODUCT_TYPES
            ),
            product_id=read_text(
                params, "product_id", "Queue/campaign id", errors, pattern=_IDENTIFIER
            ),
            status=read_choice(params, "status", "Status", errors, choices=CallStatus.values),
            has_recording=read_bool(params, "recording", "Recording", errors),
            has_transcript=read_bool(params, "transcript", "Transcript", errors),
            min_overtalk=read_number(params, "min_overtalk", "Minimum overtalk", errors),
            min_monologue=read_number(params, "min_monologue", "Minimum monologue", errors),
            min_interruptions=int(min_interruptions) if min_interruptions is not None else None,
            text=read_text(params, "q", "Search", errors, max_length=200),
            sort=read_choice(params, "sort", "Sort", errors, choices=SORT_CHOICES) or DEFAULT_SORT,
        )
        raw_cursor = read_text(params, "cursor", "Page", errors, max_length=500)
        if raw_cursor:
            cursor = _cursor_from_token(raw_cursor, sort=query.sort)
            if cursor is None:
                errors.add(
                    "Page",
                    "the page link is out of date or damaged",
                    param="cursor",
                    consequence="showing the first page",
                )
            query = replace(query, cursor=cursor)
        return query, errors

    @property
    def sort_key(self) -> SortKey:
        return SORT_KEYS[self.sort.lstrip("-")]

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")

    def as_params(self, **overrides: Any) -> dict[str, str]:
        """The query string of this search (without a cursor), for links that keep the filters."""
        values: dict[str, Any] = {
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "",
            "agent": self.agent,
            "caller": self.caller,
            "dialled": self.dialled,
            "product_type": self.product_type,
            "product_id": self.product_id,
            "status": self.status,
            "recording": _bool_param(self.has_recording),
            "transcript": _bool_param(self.has_transcript),
            "min_overtalk": _number_param(self.min_overtalk),
            "min_monologue": _number_param(self.min_monologue),
            "min_interruptions": _number_param(self.min_interruptions),
            "q": self.text,
            "sort": "" if self.sort == DEFAULT_SORT else self.sort,
        }
        values.update(overrides)
        return {k: str(v) for k, v in values.items() if v not in ("", None)}

    def querystring(self, **overrides: Any) -> str:
        return urlencode(self.as_params(**overrides))

    @property
    def is_filtered(self) -> bool:
        return bool(self.as_params(sort=""))


def _bool_param(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def _number_param(value: float | int | None) -> str:
    return "" if value is None else f"{value:g}"


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallRow:
    """One call of a page, with what the list shows about it already worked out (a page of 50
    rows formatted here costs a fraction of the same formatting done by template filters)."""

    call: Call
    has_transcript: bool
    matched_line: MatchedLine | None = None

    @property
    def started_local(self) -> str:
        return timezone.localtime(self.call.started_at).strftime("%Y-%m-%d %H:%M")

    @property
    def duration_text(self) -> str:
        seconds = self.call.duration_seconds
        return "—" if seconds is None else f"{seconds:,.0f} s"

    @property
    def analysis(self) -> CallAnalysis | None:
        try:
            return self.call.analysis
        except CallAnalysis.DoesNotExist:
            return None

    @property
    def talk_text(self) -> str:
        a = self.analysis
        if a is None:
            return ""
        return f"talk {a.agent_talk_seconds:,.0f} / {a.caller_talk_seconds:,.0f} s"

    @property
    def overtalk_text(self) -> str:
        a = self.analysis
        if a is None:
            return ""
        interruptions = a.agent_interruptions + a.caller_interruptions
        return (
            f"overtalk {a.overtalk_seconds:,.0f} s · {interruptions} int. · "
            f"mono {a.longest_monologue_seconds:,.0f} s"
        )


@dataclass(frozen=True)
class CallPage:
    rows: list[CallRow]
    next_cursor: str | None
    previous_cursor: str | None
    count: int | None  # matching calls, counted up to COUNT_CAP; None for a text search
    count_capped: bool  # True when there are more than ``count``


def filtered_calls(*, user: AbstractUser | AnonymousUser, query: CallQuery) -> QuerySet[Call]:
    """Every call the user may see that matches the query's filters (not ordered, not paged)."""
    calls = calls_visible_to(user=user)
    if query.date_from is not None:
        calls = calls.filter(started_at__gte=day_start(query.date_from))
    if query.date_to is not None:
        calls = calls.filter(started_at__lt=day_end_exclusive(query.date_to))
    if query.agent:
        calls = calls.filter(agent_id=query.agent)
    if query.caller:
        calls = calls.filter(ani=query.caller)
    if query.dialled:
        calls = calls.filter(dnis=query.dialled)
    if query.product_type:
        calls = calls.filter(product_type=query.product_type)
    if query.product_id:
        calls = calls.filter(product_id=query.product_id)
    if query.status:
        calls = calls.filter(status=query.status)
    if query.has_recording is not None:
        calls = (
            calls.exclude(recording_path="")
            if query.has_recording
            else calls.filter(recording_path="")
        )
    if query.has_transcript is not None:
        done = Exists(Transcript.objects.filter(call=OuterRef("pk"), status=TranscriptStatus.DONE))
        calls = calls.filter(done if query.has_transcript else ~done)
    if query.min_overtalk is not None:
        calls = calls.filter(analysis__overtalk_seconds__gte=query.min_overtalk)
    if query.min_monologue is not None:
        calls = calls.filter(analysis__longest_monologue_seconds__gte=query.min_monologue)
    needs_interruptions = (
        query.min_interruptions is not None or query.sort_key.name == "interruptions"
    )
    if needs_interruptions:
        calls = calls.annotate(
            interruptions_total=F("analysis__agent_interruptions")
            + F("analysis__caller_interruptions")
        )
    if query.min_interruptions is not None:
        calls = calls.filter(GreaterThanOrEqual(F("interruptions_total"), query.min_interruptions))
    if query.text:
        calls = calls.filter(calls_matching_condition(query.text))
    if query.sort_key.requires is not None:
        calls = calls.filter(query.sort_key.requires)
    return calls


def _after(order_field: str, value: Any, pk: int, descending: bool) -> Q:
    """Rows strictly after (value, pk) in the order; the redundant bound lets an index seek."""
    strict, bound = ("lt", "lte") if descending else ("gt", "gte")
    return Q(**{f"{order_field}__{bound}": value}) & (
        Q(**{f"{order_field}__{strict}": value}) | Q(**{order_field: value, f"pk__{strict}": pk})
    )


def search_calls(
    *, user: AbstractUser | AnonymousUser, query: CallQuery, page_size: int | None = None
) -> CallPage:
    """One keyset page of the calls the user may see that match ``query``.

    A constant number of queries whatever the page size: the page (with its analysis joined and
    "has a transcript" as a subquery), the capped count (none for a search), and with a search
    a look at the text index's statistics (and, for rare words, one read of the index) and one
    query for the matching lines of the whole page.
    """
    page_size = page_size or PAGE_SIZE
    key = query.sort_key
    calls = filtered_calls(user=user, query=query)
    count = None if query.text else calls.order_by().values("pk")[: COUNT_CAP + 1].count()

    cursor = query.cursor
    backwards = cursor is not None and cursor.backwards
    descending = query.descending != backwards  # reading backwards flips the order
    if cursor is not None:
        calls = calls.filter(_after(key.order_field, cursor.value, cursor.pk, descending))
    ordering = [f"-{key.order_field}", "-pk"] if descending else [key.order_field, "pk"]
    page_calls = calls.select_related("analysis").annotate(
        has_done_transcript=Exists(
            Transcript.objects.filter(call=OuterRef("pk"), status=TranscriptStatus.DONE)
        )
    )
    fetched = list(page_calls.order_by(*ordering)[: page_size + 1])
    more = len(fetched) > page_size
    fetched = fetched[:page_size]
    if backwards:
        fetched.reverse()

    lines = first_matching_lines(query.text, [c.pk for c in fetched]) if query.text else {}
    rows = [
        CallRow(call=c, has_transcript=c.has_done_transcript, matched_line=lines.get(c.pk))
        for c in fetched
    ]
    has_next = (more if not backwards else True) and bool(fetched)
    has_previous = (more if backwards else cursor is not None) and bool(fetched)
    return CallPage(
        rows=rows,
        next_cursor=_cursor_token(query, fetched[-1], backwards=False) if has_next else None,
        previous_cursor=_cursor_token(query, fetched[0], backwards=True) if has_previous else None,
        count=None if count is None else min(count, COUNT_CAP),
        count_capped=count is not None and count > COUNT_CAP,
    )


# --- cursors ---------------------------------------------------------------------------------


def _sort_value(call: Call, key: SortKey) -> Any:
    value: Any = call
    for part in key.order_field.split("__"):
        value = getattr(value, part)
    return value.isoformat() if isinstance(value, datetime) else value


def _cursor_token(query: CallQuery, call: Call, *, backwards: bool) -> str:
    payload = {"s": query.sort, "v": _sort_value(call, query.sort_key), "i": call.pk}
    if backwards:
        payload["b"] = 1
    return sign_cursor(payload, salt=CURSOR_SALT)


def _cursor_from_token(token: str, *, sort: str) -> Cursor | None:
    """The cursor, if this server signed it for this sort and its value has the sort's type."""
    payload = unsign_cursor(token, salt=CURSOR_SALT)
    if payload is None or payload.get("s") != sort:
        return None
    key = SORT_KEYS[sort.lstrip("-")]
    pk, value = payload.get("i"), payload.get("v")
    if not isinstance(pk, int) or isinstance(pk, bool):
        return None
    parsed: Any
    if key.value_kind == "datetime":
        if not isinstance(value, str):
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
    elif key.value_kind == "float":
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None
        parsed = float(value)
    elif key.value_kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        parsed = value
    else:
        if not isinstance(value, str):
            return None
        parsed = value
    return Cursor(sort=sort, value=parsed, pk=pk, backwards=bool(payload.get("b")))
