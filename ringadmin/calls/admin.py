from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from ringadmin.admin_readonly import ReadOnlyAdminMixin
from ringadmin.calls.models import Call
from ringadmin.calls.stream_stats import (
    SECTIONS,
    compact,
    perspective_columns,
    section_items,
    stats_mapping,
    stats_perspectives,
    unknown_items,
)

NO_STATS = "No stream statistics (a demo call, or nothing received yet)."
# Headings of stream_stats' call-wide sections on the page (others: their key).
SECTION_LABELS = {"taps": "live listeners", "lag_ms": "lag (ms)"}

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


def stream_perspective_rows(stats: Any) -> list[tuple[str, ...]]:
    """One row per perspective (``Participant``, ``Conference``…), cells in column order."""
    columns = perspective_columns(stats)
    return [
        (str(name), *(compact(values.get(key)) for key, _ in columns))
        for name, values in stats_perspectives(stats).items()
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
    for section in SECTIONS:
        values = section_items(stats, section)
        if values:
            separator = ": " if section == "lag_ms" else " "
            items.append(
                (
                    SECTION_LABELS.get(section, section),
                    ", ".join(f"{k}{separator}{compact(v)}" for k, v in values),
                )
            )
    items.extend((key, compact(value)) for key, value in unknown_items(stats))
    return items


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
        *(f.name for f in Call._meta.fields),
        "stream_summary",
        "stream_perspectives",
    )

    def get_fieldsets(self, request: HttpRequest, obj: Call | None = None):
        # Fields added to Call later land in "Raw data" rather than disappearing from the page.
        shown = {*CALL_FIELDS, *PARTY_FIELDS, *STREAM_FIELDS}
        rest = tuple(f.name for f in Call._meta.fields if f.name not in shown and f.name != "id")
        return (
            (None, {"fields": CALL_FIELDS}),
            ("Parties and product", {"fields": PARTY_FIELDS}),
            ("Recording and stream", {"fields": STREAM_FIELDS}),
            ("Raw data", {"fields": rest, "classes": ("collapse",)}),
        )

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
        columns = perspective_columns(obj.stream_stats)
        head = format_html_join(
            "", "<th>{}</th>", [("perspective",), *((label.long,) for _, label in columns)]
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
