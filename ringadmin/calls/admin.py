from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IS_POPUP_VAR, InlineModelAdmin
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
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
from ringadmin.logging import redact_mapping

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
STREAM_FIELDS = ("recording_links", "conversation", "stream_summary", "stream_perspectives")
# Where the recording lies on the server is nobody's business on a page: the links serve it.
HIDDEN_FIELDS = {"recording_path"}
# Shown through a display that masks secrets (rows written before a secret name was masked).
MASKED_FIELDS = {"metadata": "metadata_shown", "handshake": "handshake_shown"}


def stream_perspective_rows(stats: Any) -> list[tuple[str, ...]]:
    """One row per perspective (``Participant``, ``Conference``…), cells in column order."""
    columns = perspective_columns(stats)
    return [
        (str(name), *(compact(values.get(key)) for key, _ in columns))
        for name, values in stats_perspectives(stats).items()
    ]


def stream_summary_items(stats: Any) -> list[tuple[str, str | list[tuple[str, str]]]]:
    """The call-wide figures of ``stream_stats`` as (label, value) pairs, absent ones left out;
    a section's value (``recording``, ``taps``, ``lag_ms``) is its own (key, value) pairs."""
    if not isinstance(stats, dict) or not stats:
        return []
    items: list[tuple[str, str | list[tuple[str, str]]]] = []
    if "numbering" in stats:
        items.append(("sequence numbering", str(stats["numbering"])))
    if "sockets" in stats:
        items.append(("sockets", str(stats["sockets"])))
    errors = stats_mapping(stats, "errors")
    items.append(("errors", ", ".join(f"{k}: {v}" for k, v in errors.items()) or "none"))
    for section in SECTIONS:
        values = section_items(stats, section)
        if values:
            items.append(
                (SECTION_LABELS.get(section, section), [(k, compact(v)) for k, v in values])
            )
    items.extend((key, compact(value)) for key, value in unknown_items(stats))
    return items


def _summary_cell(value: str | list[tuple[str, str]]) -> str:
    """A plain value, or a section as a small table: its keys above, its values below."""
    if isinstance(value, str):
        return format_html("{}", value)
    head = format_html_join("", "<th>{}</th>", ((key,) for key, _ in value))
    cells = format_html_join("", "<td>{}</td>", ((cell,) for _, cell in value))
    return format_html('<table class="stream-section"><tr>{}</tr><tr>{}</tr></table>', head, cells)


def _json_masked(value: Any) -> str:
    shown = json.dumps(redact_mapping(value), indent=2, sort_keys=True, ensure_ascii=False)
    return format_html("<pre>{}</pre>", shown)


@dataclass(frozen=True)
class CallAction:
    """An action on the list of calls that another app offers (e.g. "Re-transcribe")."""

    name: str  # the form's value, unique among the call list's actions
    function: Callable[[admin.ModelAdmin, HttpRequest, QuerySet[Call]], Any]
    description: str
    allowed: Callable[[HttpRequest], bool]  # whether this request's user may run it


@dataclass
class CallAdminExtensions:
    """What other apps add to the call admin, each from its own admin module: inlines shown
    under the call and actions on the list. The core's ``CallAdmin`` stays the one registered,
    so no app replaces another's additions."""

    inlines: list[type[InlineModelAdmin]] = field(default_factory=list)
    actions: dict[str, CallAction] = field(default_factory=dict)

    def add_inline(self, inline: type[InlineModelAdmin]) -> None:
        if inline not in self.inlines:  # an admin module imported twice adds nothing twice
            self.inlines.append(inline)

    def add_action(self, action: CallAction) -> None:
        self.actions[action.name] = action


call_admin_extensions = CallAdminExtensions()


@admin.register(Call)
class CallAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Calls are written by the ingest; admins look, they do not edit or delete. Other apps
    add inlines and actions through ``call_admin_extensions``."""

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
        *(f.name for f in Call._meta.fields if f.name not in {*MASKED_FIELDS, *HIDDEN_FIELDS}),
        *MASKED_FIELDS.values(),
        "recording_links",
        "conversation",
        "stream_summary",
        "stream_perspectives",
    )

    def get_inlines(self, request: HttpRequest, obj: Call | None):
        return (*super().get_inlines(request, obj), *call_admin_extensions.inlines)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions: dict[str, Any] = super().get_actions(request)
        if self.actions is None or IS_POPUP_VAR in request.GET:
            return actions
        for action in call_admin_extensions.actions.values():
            if action.allowed(request):
                actions[action.name] = (action.function, action.name, action.description)
        return actions

    def get_fieldsets(self, request: HttpRequest, obj: Call | None = None):
        # Fields added to Call later land in "Raw data" rather than disappearing from the page.
        shown = {*CALL_FIELDS, *PARTY_FIELDS, *STREAM_FIELDS, *HIDDEN_FIELDS}
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

    @admin.display(description="recording")
    def recording_links(self, obj: Call) -> str:
        page = reverse("call-detail", args=[obj.pk])
        if not obj.recording_path:
            return format_html('No recording. <a href="{}">Call page</a>', page)
        return format_html(
            '<a href="{}">Call page</a> (player, waveform, transcript) · '
            '<a href="{}">Recording</a>',
            page,
            reverse("call-recording", args=[obj.pk]),
        )

    @admin.display(description="conversation")
    def conversation(self, obj: Call) -> str:
        try:
            analysis = obj.analysis
        except ObjectDoesNotExist:
            return "Not analysed yet."
        speaker = analysis.get_longest_monologue_speaker_display()
        figures = [
            ("agent talk (s)", f"{analysis.agent_talk_seconds:.1f}"),
            ("caller talk (s)", f"{analysis.caller_talk_seconds:.1f}"),
            ("silence (s)", f"{analysis.silence_seconds:.1f}"),
            ("overtalk (s)", f"{analysis.overtalk_seconds:.1f}"),
            ("longest monologue (s)", f"{analysis.longest_monologue_seconds:.1f} {speaker}"),
            ("interruptions by agent", str(analysis.agent_interruptions)),
            ("interruptions by caller", str(analysis.caller_interruptions)),
        ]
        return _summary_cell(figures)

    @admin.display(description="stream")
    def stream_summary(self, obj: Call) -> str:
        items = stream_summary_items(obj.stream_stats)
        if not items:
            return NO_STATS
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td></tr>",
            ((name, _summary_cell(value)) for name, value in items),
        )
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
