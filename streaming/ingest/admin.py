"""Admin for the ingest handshake log: read-only, and secrets redacted again on the page."""

from __future__ import annotations

import json

from django.contrib import admin
from django.utils.html import format_html

from ringadmin.admin_readonly import ReadOnlyAdminMixin
from ringadmin.logging import redact_mapping
from streaming.ingest.models import IngestHandshake


@admin.register(IngestHandshake)
class IngestHandshakeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What RingCX sent at the last handshakes: evidence to read, never to edit."""

    list_display = (
        "created_at",
        "client",
        "outcome",
        "status_code",
        "reason",
        "ringcx_call_id",
        "secret_source",
        "profile",
    )
    list_filter = ("outcome", "status_code", "secret_source")
    search_fields = ("ringcx_call_id", "client", "reason")
    list_select_related = ("profile",)
    date_hierarchy = "created_at"
    fields = (
        "created_at",
        "client",
        "path",
        "outcome",
        "status_code",
        "reason",
        "profile",
        "ringcx_call_id",
        "secret_source",
        "params_display",
        "header_names_display",
    )
    readonly_fields = fields

    @admin.display(description="query parameters")
    def params_display(self, obj: IngestHandshake) -> str:
        # Redacted again here: a page must not show a secret even if one slipped into the log.
        params = json.dumps(redact_mapping(obj.query_params), indent=2, sort_keys=True)
        return format_html('<pre class="handshake-params">{}</pre>', params)

    @admin.display(description="header names")
    def header_names_display(self, obj: IngestHandshake) -> str:
        return ", ".join(str(name) for name in obj.header_names or []) or "-"
