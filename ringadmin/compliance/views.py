"""Auditors' pages: browse the audit trail and export the filtered entries as CSV or JSON Lines
(each export is itself audited, with the filters it used, and ends with its chain proof)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from typing import Any

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from ringadmin.compliance.audit import audit_chain_verify_incremental, audit_record
from ringadmin.compliance.audit_search import AuditQuery, audit_events_to_export, audit_page
from ringadmin.compliance.checkpoints import checkpoint_write
from ringadmin.compliance.models import AuditEvent, AuditEventType

EXPORT_COLUMNS = [
    "sequence",
    "occurred_at",
    "event_type",
    "actor_label",
    "target_type",
    "target_id",
    "call_id",
    "ip_address",
    "user_agent",
    "data",
    "prev_hash",
    "entry_hash",
]


class _Echo:
    def write(self, value: str) -> str:
        return value


def export_record(event: AuditEvent) -> dict[str, Any]:
    """One entry as exported: the columns above, ``data`` as the JSON object it is."""
    return {
        "sequence": event.sequence,
        "occurred_at": event.occurred_at.isoformat(),
        "event_type": event.event_type,
        "actor_label": event.actor_label,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "call_id": event.call_id,
        "ip_address": event.ip_address,
        "user_agent": event.user_agent,
        "data": event.data,
        "prev_hash": event.prev_hash,
        "entry_hash": event.entry_hash,
    }


CHAIN_PROOF = "chain_proof"


def chain_proof(first: AuditEvent | None, last: AuditEvent | None) -> dict[str, Any]:
    """What ties the exported entries to the whole chain: the first entry's predecessor (its
    ``prev_hash``; the genesis for entry #1), the last entry, and a checkpoint of the head
    written now and signed, which the checkpoint file also keeps."""
    checkpoint = checkpoint_write()
    return {
        "first_sequence": first.sequence if first else None,
        "predecessor_sequence": first.sequence - 1 if first else None,
        "predecessor_hash": first.prev_hash if first else None,
        "last_sequence": last.sequence if last else None,
        "last_entry_hash": last.entry_hash if last else None,
        "checkpoint": checkpoint,
    }


class _Ends:
    """Remembers the first and last entries streamed, for the proof at the end."""

    def __init__(self, events: Iterator[AuditEvent]) -> None:
        self.events = events
        self.first: AuditEvent | None = None
        self.last: AuditEvent | None = None

    def __iter__(self) -> Iterator[AuditEvent]:
        for event in self.events:
            if self.first is None:
                self.first = event
            self.last = event
            yield event

    def proof(self) -> dict[str, Any]:
        return chain_proof(self.first, self.last)


def _csv_lines(events: Iterator[AuditEvent]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_COLUMNS)
    ends = _Ends(events)
    for event in ends:
        record = export_record(event)
        record["data"] = json.dumps(record["data"], sort_keys=True, ensure_ascii=False)
        yield writer.writerow(["" if record[c] is None else record[c] for c in EXPORT_COLUMNS])
    yield writer.writerow([f"#{CHAIN_PROOF}", json.dumps(ends.proof(), sort_keys=True)])


def _jsonl_lines(events: Iterator[AuditEvent]) -> Iterator[str]:
    ends = _Ends(events)
    for event in ends:
        yield json.dumps(export_record(event), ensure_ascii=False, sort_keys=False) + "\n"
    yield json.dumps({CHAIN_PROOF: ends.proof()}, sort_keys=True) + "\n"


EXPORT_FORMATS: dict[str, tuple[str, Callable[[Iterator[AuditEvent]], Iterator[str]]]] = {
    "csv": ("text/csv; charset=utf-8", _csv_lines),
    "jsonl": ("application/jsonl; charset=utf-8", _jsonl_lines),
}


@login_required
@permission_required("compliance.view_auditevent", raise_exception=True)
def audit_list(request: HttpRequest) -> HttpResponse:
    query, errors = AuditQuery.from_params(request.GET)
    page = audit_page(user=request.user, query=query)
    return render(
        request,
        "compliance/audit_list.html",
        {
            "query": query,
            "errors": errors,
            "page": page,
            "event_types": AuditEventType.choices,
            "chain": audit_chain_verify_incremental(),
            "can_export": request.user.has_perm("compliance.export_auditevent"),
        },
    )


def _export(request: HttpRequest, export_format: str) -> StreamingHttpResponse:
    """Stream the filtered entries; the export is recorded before the first byte is sent."""
    query, _errors = AuditQuery.from_params(request.GET)
    audit_record(
        event_type=AuditEventType.AUDIT_EXPORTED,
        actor=request.user,
        data={"format": export_format, "filters": query.filter_params()},
        request=request,
    )
    content_type, lines = EXPORT_FORMATS[export_format]
    events = audit_events_to_export(user=request.user, query=query).order_by("sequence")
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response = StreamingHttpResponse(
        lines(events.iterator(chunk_size=2000)), content_type=content_type
    )
    response["Content-Disposition"] = f'attachment; filename="audit-trail-{stamp}.{export_format}"'
    return response


@login_required
@permission_required("compliance.export_auditevent", raise_exception=True)
def audit_export_csv(request: HttpRequest) -> StreamingHttpResponse:
    return _export(request, "csv")


@login_required
@permission_required("compliance.export_auditevent", raise_exception=True)
def audit_export_jsonl(request: HttpRequest) -> StreamingHttpResponse:
    return _export(request, "jsonl")
