from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from ringadmin.admin_readonly import ReadOnlyAdminMixin
from ringadmin.calls.models import Call
from ringadmin.calls.stream_stats import PERSPECTIVE_FIELDS, stats_mapping, stats_perspectives
from ringadmin.logging import redact_mapping

PERSPECTIVE_COLUMNS = tuple((key, heading) for key, heading, _ in PERSPECTIVE_FIELDS)
RECORDING_KEYS = ("format", "channels", "sample_rate", "seconds", "bytes")
NO_STATS = "No stream statistics (a demo call, or nothing received yet)."

CALL_FIELDS = (
    "ringcx_call_id",
    "session_id",
    "status",
    "started_at",
    "ended_at",
    "duration_seconds",
    "end_reason",
)
PARTY_FIELDS = (
    "ani",
    "dnis",
    "agent_id",
    "account_id",
    "subaccount_id",
    "rc_account_id",
    "product_type",
    "product_id",
)
STREAM_FIELDS = ("recording_path", "stream_summary", "stream_perspectives")
# Shown through a display that masks secrets (rows written before a secret name was masked).
MASKED_FIELDS = {"metadata": "metadata_shown", "handshake": "handshake_shown"}


def stream_perspective_rows(stats: Any) -> list[tuple[str, ...]]:
    """One row per perspective (``Participant``, ``Conference``…), cells in column order."""
    return [
        (
            str(name),
            *("" if v.get(key) is None else str(v.get(key)) for key, _ in PERSPECTIVE_COLUMNS),
        )
        for name, v in stats_perspectives(stats).items()
    ]


def stream_summary_items(stats: Any) -> list[tuple[str, str]]:
    """The call-wide figures of ``stream_stats`` as (label, value) pairs, absent ones left out."""
    if not isinstance(stats, dict) or not stats:
        return []
    items = []
    if "numbering" in stats:
        items.append(("sequence numbering", str(stats["numbering"])))
    if "sockets" in stats:
        items.append(("sockets", str(stats["sockets"])))
    errors = stats_mapping(stats, "errors")
    items.append(("errors", ", ".join(f"{k}: {v}" for k, v in errors.items()) or "none"))
    recording = stats_mapping(stats, "recording")
    if recording:
        items.append(
            (
                "recording",
                ", ".join(f"{k} {recording[k]}" for k in RECORDING_KEYS if k in recording),
            )
        )
    taps = stats_mapping(stats, "taps")
    if "dropped" in taps:
        items.append(("live listeners' dropped frames", str(taps["dropped"])))
    lag = stats_mapping(stats, "lag_ms")
    if lag:
        items.append(("lag (ms)", ", ".join(f"{k}: {v}" for k, v in lag.items())))
    return items


def _json_masked(value: Any) -> str:
    shown = json.dumps(redact_mapping(value), indent=2, sort_keys=True, ensure_ascii=False)
    return format_html("<pre>{}</pre>", shown)


@admin.register(Call)
class CallAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Calls are written by the ingest; admins look, they do not edit or delete."""

    list_display = (
        "ringcx_call_id",
        "session_id",
        "status",
        "started_at",
        "duration_seconds",
        "agent_id",
        "ani",
        "dnis",
        "product_type",
        "product_id",
    )
    list_filter = ("status", "product_type", "is_demo", "started_at")
    search_fields = ("ringcx_call_id", "session_id", "ani", "dnis", "agent_id", "product_id")
    date_hierarchy = "started_at"
    readonly_fields = (
        *(f.name for f in Call._meta.fields if f.name not in MASKED_FIELDS),
        *MASKED_FIELDS.values(),
        "stream_summary",
        "stream_perspectives",
    )

    def get_fieldsets(self, request: HttpRequest, obj: Call | None = None):
        # Fields added to Call later land in "Raw data" rather than disappearing from the page.
        shown = {*CALL_FIELDS, *PARTY_FIELDS, *STREAM_FIELDS}
        rest = tuple(
            MASKED_FIELDS.get(f.name, f.name)
            for f in Call._meta.fields
            if f.name not in shown and f.name != "id"
        )
        return (
            (None, {"fields": CALL_FIELDS}),
            ("Parties and product", {"fields": PARTY_FIELDS}),
            ("Recording and stream", {"fields": STREAM_FIELDS}),
            ("Raw data", {"fields": rest, "classes": ("collapse",)}),
        )

    @admin.display(description="metadata")
    def metadata_shown(self, obj: Call) -> str:
        return _json_masked(obj.metadata)

    @admin.display(description="handshake")
    def handshake_shown(self, obj: Call) -> str:
        return _json_masked(obj.handshake)

    @admin.display(description="stream")
    def stream_summary(self, obj: Call) -> str:
        items = stream_summary_items(obj.stream_stats)
        if not items:
            return NO_STATS
        rows = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", items)
        return format_html('<table class="stream-summary">{}</table>', rows)

    @admin.display(description="per perspective")
    def stream_perspectives(self, obj: Call) -> str:
        rows = stream_perspective_rows(obj.stream_stats)
        if not rows:
            return "-"
        head = format_html_join(
            "", "<th>{}</th>", [("perspective",), *((label,) for _, label in PERSPECTIVE_COLUMNS)]
        )
        body = format_html_join(
            "",
            "<tr>{}</tr>",
            ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows),
        )
        return format_html(
            '<table class="stream-perspectives">'
            "<thead><tr>{}</tr></thead><tbody>{}</tbody></table>",
            head,
            body,
        )
