"""Admin for transcripts (read-only), with "Re-transcribe" here and on the calls' pages."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from ringadmin.admin_readonly import ReadOnlyAdminMixin, ReadOnlyTabularInline
from ringadmin.calls.admin import CallAction, call_admin_extensions
from ringadmin.calls.models import Call
from streaming.transcription.engines.base import TranscriptionError
from streaming.transcription.models import Transcript, TranscriptSegment, TranscriptStatus
from streaming.transcription.post_call import transcription_enqueue


class TranscriptSegmentInline(ReadOnlyTabularInline):
    model = TranscriptSegment
    fields = ("seq", "speaker", "start", "end", "text", "confidence")
    readonly_fields = fields


def may_retranscribe(request: HttpRequest) -> bool:
    """Queuing transcription is adding transcripts: admins may, supervisors may not."""
    return request.user.has_perm("streaming.add_transcript")


def _retranscribe(request: HttpRequest, calls) -> None:
    queued, skipped = 0, []
    for call in calls:
        try:
            with transaction.atomic():
                transcript = transcription_enqueue(call=call, force=True)
        except TranscriptionError as exc:
            skipped.append(f"{call}: {exc}")
            continue
        if transcript is None:
            skipped.append(f"{call}: no recording, or transcription is off for it")
            continue
        transcript.refresh_from_db(fields=["status", "error"])  # queuing runs on commit
        if transcript.status == TranscriptStatus.FAILED:
            skipped.append(f"{call}: {transcript.error}")
        else:
            queued += 1
    if queued:
        messages.success(
            request,
            f"{queued} call(s) queued for transcription; progress shows under Transcripts.",
        )
    for reason in skipped[:10]:
        messages.warning(request, f"Not transcribed: {reason}")


@admin.register(Transcript)
class TranscriptAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: transcripts are written by the transcription task only."""

    list_display = (
        "call",
        "kind",
        "engine",
        "model",
        "status",
        "progress_display",
        "audio_seconds",
        "speed_display",
        "updated_at",
    )
    list_filter = ("kind", "status", "engine")
    search_fields = ("call__ringcx_call_id", "segments__text")
    list_select_related = ("call",)
    readonly_fields = (
        "call",
        "kind",
        "engine",
        "model",
        "status",
        "progress_display",
        "error",
        "attempts",
        "audio_seconds",
        "processing_seconds",
        "speed_display",
        "created_at",
        "updated_at",
        "completed_at",
    )
    fields = readonly_fields
    inlines = (TranscriptSegmentInline,)
    actions = ("retranscribe",)

    @admin.display(description="progress")
    def progress_display(self, obj: Transcript) -> str:
        if obj.status == TranscriptStatus.RUNNING:
            return f"{obj.progress:.0%}"
        return obj.get_status_display()

    @admin.display(description="speed")
    def speed_display(self, obj: Transcript) -> str:
        return f"{obj.speed:.1f}x real time" if obj.speed else "-"

    @admin.action(
        description="Re-transcribe the selected transcripts' calls", permissions=["retranscribe"]
    )
    def retranscribe(self, request: HttpRequest, queryset: QuerySet[Transcript]) -> None:
        _retranscribe(request, [t.call for t in queryset.select_related("call")])

    def has_retranscribe_permission(self, request: HttpRequest) -> bool:
        return may_retranscribe(request)


class TranscriptInline(ReadOnlyTabularInline):
    model = Transcript
    fields = ("kind", "engine", "model", "status", "progress", "error", "updated_at")
    readonly_fields = fields
    show_change_link = True


def retranscribe_calls(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Call]
) -> None:
    _retranscribe(request, list(queryset))


# The call page shows its transcripts, and the list of calls offers "Re-transcribe".
call_admin_extensions.add_inline(TranscriptInline)
call_admin_extensions.add_action(
    CallAction(
        name="retranscribe",
        function=retranscribe_calls,
        description="Re-transcribe the selected calls",
        allowed=may_retranscribe,
    )
)
