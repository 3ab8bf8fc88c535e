"""The consent log page and its exports (CSV / JSON Lines, each with a signed manifest)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from ringadmin.compliance.audit import audit_record
from ringadmin.compliance.consent_models import (
    ConsentOutcome,
    ConsentVerification,
    SignedExport,
)
from ringadmin.compliance.consent_search import (
    EXPORT_COLUMNS,
    PRODUCT_TYPES,
    ConsentQuery,
    consent_export_rows,
    consent_page,
)
from ringadmin.compliance.exports import DigestingStream, csv_lines, jsonl_lines, manifest_build
from ringadmin.compliance.models import AuditEventType

EXPORT_CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/jsonl; charset=utf-8",
}


@login_required
@permission_required("compliance.view_consentrecord", raise_exception=True)
def consent_list(request: HttpRequest) -> HttpResponse:
    query, errors = ConsentQuery.from_params(request.GET)
    page = consent_page(user=request.user, query=query)
    return render(
        request,
        "compliance/consent_list.html",
        {
            "current": "consent",
            "query": query,
            "querystring": urlencode(query.filter_params()),
            "errors": errors,
            "page": page,
            "outcomes": ConsentOutcome.choices,
            "verifications": ConsentVerification.choices,
            "product_types": PRODUCT_TYPES,
            "can_export": request.user.has_perm("compliance.export_consentrecord"),
        },
    )


def _signed_stream(
    lines: Iterator[str], *, export: SignedExport, header_lines: int, who: str
) -> Iterator[bytes]:
    """The file's bytes; after the last one, its manifest is signed and kept."""
    stream = DigestingStream(lines, header_lines=header_lines)
    yield from stream
    export.manifest = manifest_build(
        export_id=str(export.id),
        kind=export.kind,
        export_format=export.export_format,
        rows=stream.rows,
        sha256=stream.sha256.hexdigest(),
        filters=export.manifest.get("filters", {}),
        who=who,
        when=export.created_at,
    )
    export.completed_at = timezone.now()
    export.save(update_fields=["manifest", "completed_at"])


@login_required
@permission_required("compliance.export_consentrecord", raise_exception=True)
def consent_export(request: HttpRequest, export_format: str) -> StreamingHttpResponse:
    """Stream the filtered log; the export is audited before its first byte."""
    if export_format not in EXPORT_CONTENT_TYPES:
        raise Http404("unknown export format")
    query, _errors = ConsentQuery.from_params(request.GET)
    filters = query.filter_params()
    export = SignedExport.objects.create(
        id=uuid.uuid4(),
        kind="consent",
        export_format=export_format,
        created_by_id=request.user.pk,
        created_at=timezone.now(),
        manifest={"filters": filters},
    )
    audit_record(
        event_type=AuditEventType.CONSENT_EXPORTED,
        actor=request.user,
        target=export,
        data={"format": export_format, "filters": filters, "export_id": str(export.id)},
        ip_address=request.META.get("REMOTE_ADDR"),
    )
    rows = consent_export_rows(user=request.user, query=query)
    if export_format == "csv":
        lines, header_lines = csv_lines(EXPORT_COLUMNS, rows), 1
    else:
        lines, header_lines = jsonl_lines(rows), 0
    response = StreamingHttpResponse(
        _signed_stream(
            lines, export=export, header_lines=header_lines, who=request.user.get_username()
        ),
        content_type=EXPORT_CONTENT_TYPES[export_format],
    )
    stamp = export.created_at.strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="consent-log-{stamp}.{export_format}"'
    response["X-Export-Manifest"] = reverse("consent-export-manifest", args=[export.id])
    return response


@login_required
@permission_required("compliance.export_consentrecord", raise_exception=True)
def consent_export_manifest(request: HttpRequest, export_id: uuid.UUID) -> JsonResponse:
    """The signed manifest of one's own finished export (save it beside the file)."""
    export = SignedExport.objects.filter(
        pk=export_id, created_by_id=request.user.pk, completed_at__isnull=False
    ).first()
    if export is None:
        raise Http404("no finished export with that id")
    response = JsonResponse(export.manifest, json_dumps_params={"indent": 2, "sort_keys": True})
    response["Content-Disposition"] = (
        f'attachment; filename="consent-log-{export.id}.manifest.json"'
    )
    return response
