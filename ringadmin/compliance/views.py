"""Auditors' pages: browse the audit trail and export it as CSV (the export is itself audited)."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from ringadmin.compliance.audit import audit_chain_verify, audit_record
from ringadmin.compliance.models import AuditEventType
from ringadmin.compliance.selectors import audit_events_exportable_by, audit_events_visible_to

EXPORT_COLUMNS = [
    "sequence",
    "occurred_at",
    "event_type",
    "actor_label",
    "target_type",
    "target_id",
    "call_id",
    "ip_address",
    "data",
    "prev_hash",
    "entry_hash",
]


class _Echo:
    def write(self, value: str) -> str:
        return value


@login_required
@permission_required("compliance.view_auditevent", raise_exception=True)
def audit_list(request: HttpRequest) -> HttpResponse:
    events = audit_events_visible_to(user=request.user)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "compliance/audit_list.html",
        {
            "page": page,
            "chain": audit_chain_verify(),
            "can_export": request.user.has_perm("compliance.export_auditevent"),
        },
    )


@login_required
@permission_required("compliance.export_auditevent", raise_exception=True)
def audit_export_csv(request: HttpRequest) -> StreamingHttpResponse:
    audit_record(
        event_type=AuditEventType.AUDIT_EXPORTED,
        actor=request.user,
        data={"format": "csv"},
        ip_address=request.META.get("REMOTE_ADDR"),
    )
    events = audit_events_exportable_by(user=request.user)
    writer = csv.writer(_Echo())

    def rows() -> Iterator[str]:
        yield writer.writerow(EXPORT_COLUMNS)
        for event in events.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    event.sequence,
                    event.occurred_at.isoformat(),
                    event.event_type,
                    event.actor_label,
                    event.target_type,
                    event.target_id,
                    event.call_id or "",
                    event.ip_address or "",
                    event.data,
                    event.prev_hash,
                    event.entry_hash,
                ]
            )

    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="audit-trail-{stamp}.csv"'
    return response
