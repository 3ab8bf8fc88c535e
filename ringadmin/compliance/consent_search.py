"""The consent log: consent records of the calls a user may see, filtered, in keyset pages.

Rows come only through ``calls_visible_to``; the filters are read with the shared query
readers, so a bad value is a message and the rest of the page still works.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date
from typing import Any

from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.db.models import QuerySet

from ringadmin.calls.selectors import calls_visible_to
from ringadmin.compliance.consent_models import (
    ConsentOutcome,
    ConsentRecord,
    ConsentVerification,
)
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
)

PAGE_SIZE = 50
PRODUCT_TYPES = {"queue": "Queue", "campaign": "Campaign"}
_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


@dataclass(frozen=True)
class ConsentQuery:
    date_from: date | None = None
    date_to: date | None = None
    product_type: str = ""  # "queue" / "campaign"
    product_id: str = ""
    agent: str = ""
    outcome: str = ""
    verification: str = ""
    exceptions: bool = False
    before: int | None = None  # keyset: call ids below this one (newest first)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> tuple[ConsentQuery, ParamErrors]:
        errors = ParamErrors()
        date_from, date_to = check_date_order(
            read_date(params, "from", "From", errors), read_date(params, "to", "To", errors), errors
        )
        before = read_number(
            params, "before", "Page", errors, minimum=1, maximum=2**62, integer=True
        )
        query = cls(
            date_from=date_from,
            date_to=date_to,
            product_type=read_choice(
                params, "product", "Queue/campaign", errors, choices=PRODUCT_TYPES
            ),
            product_id=read_text(params, "product_id", "Product id", errors, pattern=_ID),
            agent=read_text(params, "agent", "Agent", errors, pattern=_ID),
            outcome=read_choice(
                params, "outcome", "Outcome", errors, choices=ConsentOutcome.values
            ),
            verification=read_choice(
                params, "verification", "Verification", errors, choices=ConsentVerification.values
            ),
            exceptions=bool(read_bool(params, "exceptions", "Exceptions only", errors)),
            before=int(before) if before is not None else None,
        )
        return query, errors

    def filter_params(self) -> dict[str, str]:
        """The filters as query parameters (no page cursor): links, exports, manifests."""
        values = {
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "",
            "product": self.product_type,
            "product_id": self.product_id,
            "agent": self.agent,
            "outcome": self.outcome,
            "verification": self.verification,
            "exceptions": "yes" if self.exceptions else "",
        }
        return {k: v for k, v in values.items() if v}


def consent_records_visible_to(
    *, user: AbstractUser | AnonymousUser, query: ConsentQuery
) -> QuerySet[ConsentRecord]:
    """Consent records of the calls the user may see, filtered, newest call first."""
    if not user.has_perm("compliance.view_consentrecord"):
        return ConsentRecord.objects.none()
    rows = ConsentRecord.objects.filter(call__in=calls_visible_to(user=user))
    if query.date_from:
        rows = rows.filter(call__started_at__gte=day_start(query.date_from))
    if query.date_to:
        rows = rows.filter(call__started_at__lt=day_end_exclusive(query.date_to))
    if query.product_type:
        rows = rows.filter(call__product_type=PRODUCT_TYPES[query.product_type])
    if query.product_id:
        rows = rows.filter(call__product_id=query.product_id)
    if query.agent:
        rows = rows.filter(call__agent_id=query.agent)
    if query.outcome:
        rows = rows.filter(outcome=query.outcome)
    if query.verification:
        rows = rows.filter(verification=query.verification)
    if query.exceptions:
        rows = rows.exclude(
            outcome=ConsentOutcome.NOTICE_GIVEN,
            verification__in=[ConsentVerification.VERIFIED, ConsentVerification.NOT_CHECKED],
        )
    return rows.select_related("call", "notice", "notice__series").order_by("-call_id")


@dataclass(frozen=True)
class ConsentPage:
    rows: list[ConsentRecord]
    next_before: int | None


def consent_page(*, user: AbstractUser | AnonymousUser, query: ConsentQuery) -> ConsentPage:
    rows = consent_records_visible_to(user=user, query=query)
    if query.before is not None:
        rows = rows.filter(call_id__lt=query.before)
    found = list(rows[: PAGE_SIZE + 1])
    next_before = found[PAGE_SIZE - 1].call_id if len(found) > PAGE_SIZE else None
    return ConsentPage(rows=found[:PAGE_SIZE], next_before=next_before)


EXPORT_COLUMNS = [
    "call_id",
    "ringcx_call_id",
    "call_started_at",
    "product_type",
    "product_id",
    "agent_id",
    "notice_series",
    "notice_version",
    "method",
    "given_at",
    "recording_offset_seconds",
    "given_by",
    "outcome",
    "verification",
    "verification_score",
]


def _utc(value: Any) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def consent_export_row(record: ConsentRecord) -> dict[str, Any]:
    """One consent record as exported: plain values, UTC timestamps."""
    call = record.call
    notice = record.notice
    return {
        "call_id": record.call_id,
        "ringcx_call_id": call.ringcx_call_id,
        "call_started_at": _utc(call.started_at),
        "product_type": call.product_type,
        "product_id": call.product_id,
        "agent_id": call.agent_id,
        "notice_series": notice.series.key if notice is not None else None,
        "notice_version": notice.version if notice is not None else None,
        "method": record.method,
        "given_at": _utc(record.given_at),
        "recording_offset_seconds": record.recording_offset_seconds,
        "given_by": record.given_by,
        "outcome": record.outcome,
        "verification": record.verification,
        "verification_score": record.verification_score,
    }


def consent_export_rows(
    *, user: AbstractUser | AnonymousUser, query: ConsentQuery
) -> Iterator[dict[str, Any]]:
    """Every filtered record (no page), read in chunks: memory stays flat at any size."""
    full = ConsentQuery(**{**asdict(query), "before": None})
    for record in consent_records_visible_to(user=user, query=full).iterator(chunk_size=2000):
        yield consent_export_row(record)


def consent_record_of(*, call: Any) -> ConsentRecord | None:
    """A call's consent record (the caller has already checked the user may see the call)."""
    return (
        ConsentRecord.objects.select_related("notice", "notice__series")
        .filter(call_id=call.pk)
        .first()
    )


def consent_summary(record: ConsentRecord | None) -> dict[str, Any] | None:
    """What the call page and the API show of a call's consent (None: no record)."""
    if record is None:
        return None
    notice = record.notice
    return {
        "outcome": record.outcome,
        "outcome_label": record.get_outcome_display(),
        "method": record.method,
        "method_label": record.get_method_display(),
        "given_by": record.given_by,
        "given_at": _utc(record.given_at),
        "recording_offset_seconds": record.recording_offset_seconds,
        "verification": record.verification,
        "verification_label": record.get_verification_display(),
        "verification_score": record.verification_score,
        "notice": (
            {
                "series": notice.series.key,
                "version": notice.version,
                "kind": notice.kind,
                "language": notice.language,
                "key_phrase": notice.key_phrase,
            }
            if notice is not None
            else None
        ),
        "exception": record.outcome != ConsentOutcome.NOTICE_GIVEN
        or record.verification == ConsentVerification.NOT_FOUND,
    }
