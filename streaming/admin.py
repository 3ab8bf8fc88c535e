"""Admin for streaming profiles (through the services) and the read-only handshake log.

A profile's secret is shown once, in the success message right after it is generated (on
creation or rotation), and masked everywhere else: it never appears in a form, a list, a
handshake page or a log line.
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join

from ringadmin.admin_readonly import ReadOnlyAdminMixin, ReadOnlyTabularInline
from ringadmin.calls.admin import CallAction, call_admin_extensions
from ringadmin.calls.models import Call
from ringadmin.logging import redact_mapping
from streaming.agent_embed import embed_key_rotate, script_studio_url
from streaming.models import (
    IngestHandshake,
    StreamingProfile,
    SyncState,
    Transcript,
    TranscriptSegment,
    TranscriptStatus,
)
from streaming.services import (
    streaming_profile_create,
    streaming_profile_delete,
    streaming_profile_disable,
    streaming_profile_rotate_secret,
    streaming_profile_update,
)
from streaming.sync import streaming_profile_sync_request, streaming_profile_verify
from streaming.transcription.engines.base import TranscriptionError
from streaming.transcription.services import transcription_enqueue

IDENTITY_FIELDS = ("product_type", "product_id", "sub_account_id")
# The address this admin page was reached at: the agent iFrame URL is on the same server.
_request_base_url: ContextVar[str] = ContextVar("request_base_url", default="https://<this-host>")
ONCE_NOTE = "copy it now, it will not be shown again."


class StreamingProfileAddForm(forms.ModelForm):
    """The add form: the model's fields (validators included) plus the choice of a secret."""

    generate_secret = forms.BooleanField(
        label="Generate a secret",
        initial=True,
        required=False,
        help_text="RingCX sends it with every stream so the ingest can check who is calling. "
        "It is shown once, right after saving.",
    )

    class Meta:
        model = StreamingProfile
        fields = (
            *IDENTITY_FIELDS,
            "main_account_id",
            "rc_account_id",
            "streaming_url",
            "enabled",
            "retention_days",
            "notes",
        )


def _actor(request: HttpRequest) -> AbstractBaseUser | None:
    """Who is acting, for the audit trail (the admin site lets only signed-in staff in)."""
    return request.user if request.user.is_authenticated else None


def _announce_secret(request: HttpRequest, profile: StreamingProfile, secret: str) -> None:
    """The one place a secret reaches a page: a message rendered once, then discarded."""
    messages.success(
        request,
        format_html(
            'Secret for {}: <code class="profile-secret">{}</code> — {}',
            profile,
            secret,
            ONCE_NOTE,
        ),
    )


@admin.register(StreamingProfile)
class StreamingProfileAdmin(admin.ModelAdmin):
    """Creation, edits, rotation and disabling go through the services, which audit them."""

    list_display = (
        "product_type",
        "product_id",
        "sub_account_id",
        "streaming_url",
        "enabled",
        "secret_display",
        "sync_status",
        "retention_days",
        "updated_at",
    )
    list_display_links = ("product_type", "product_id")
    list_filter = ("product_type", "enabled", "sync_state")
    search_fields = (
        "product_id",
        "sub_account_id",
        "main_account_id",
        "rc_account_id",
        "streaming_url",
        "notes",
    )
    actions = (
        "rotate_secret",
        "rotate_embed_key",
        "disable",
        "verify_with_ringcx",
        "push_to_ringcx",
    )
    add_form = StreamingProfileAddForm
    add_fieldsets = (
        (None, {"fields": (*IDENTITY_FIELDS, "main_account_id", "rc_account_id")}),
        ("Streaming", {"fields": ("streaming_url", "enabled", "retention_days", "notes")}),
        ("Secret", {"fields": ("generate_secret",)}),
    )
    fieldsets = (
        (None, {"fields": (*IDENTITY_FIELDS, "main_account_id", "rc_account_id")}),
        (
            "Streaming",
            {
                "fields": (
                    "streaming_url",
                    "enabled",
                    "retention_days",
                    "transcription_engine",
                    "notes",
                )
            },
        ),
        (
            "Secret",
            {
                "fields": ("secret_display", "secret_rotated_at", "previous_secret_valid_until"),
                "description": "The secret was shown once, when it was generated. To issue a "
                "new one, use the “Rotate secret” action in the list.",
            },
        ),
        (
            "RingCX",
            {
                "fields": ("sync_status", "synced_at", "remote_checked_at", "drift_display"),
                "description": "Every change is pushed to RingCX automatically. “Verify with "
                "RingCX” compares without changing anything; “Push to RingCX” makes RingCX "
                "match this profile.",
            },
        ),
        (
            "Agent iFrame",
            {
                "fields": ("agent_iframe_url",),
                "description": "Paste this URL into an iFrame element of the RingCX agent "
                "script (Script Studio): agents see the call's live transcript. The key in it "
                "opens this profile's calls only; “Rotate agent iFrame key” in the list "
                "replaces it (every old URL stops working).",
            },
        ),
        ("History", {"fields": ("created_at", "updated_at")}),
    )
    readonly_fields = (
        "agent_iframe_url",
        "sync_status",
        "synced_at",
        "remote_checked_at",
        "drift_display",
        "secret_display",
        "secret_rotated_at",
        "previous_secret_valid_until",
        "created_at",
        "updated_at",
    )

    @admin.display(description="secret")
    def secret_display(self, obj: StreamingProfile) -> str:
        return obj.masked_secret

    @admin.display(description="agent script URL")
    def agent_iframe_url(self, obj: StreamingProfile) -> str:
        url = script_studio_url(base_url=_request_base_url.get(), profile=obj)
        return format_html('<code class="agent-iframe-url">{}</code>', url)

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any):
        token = _request_base_url.set(f"https://{request.get_host()}")
        try:
            response = super().changeform_view(request, *args, **kwargs)
            if isinstance(response, TemplateResponse):
                response.render()  # while this request's address is known
            return response
        finally:
            _request_base_url.reset(token)

    def get_fieldsets(self, request: HttpRequest, obj: StreamingProfile | None = None):
        return self.add_fieldsets if obj is None else super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: StreamingProfile | None = None):
        # The product identity is RingCX's key for the profile (account/type/id in its URL):
        # changing it here would orphan the profile there, so a new product is a new profile.
        readonly = tuple(super().get_readonly_fields(request, obj))
        return readonly if obj is None else (*IDENTITY_FIELDS, *readonly)

    def get_form(
        self,
        request: HttpRequest,
        obj: StreamingProfile | None = None,
        change: bool = False,
        **kwargs: Any,
    ):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, change, **kwargs)

    def save_model(
        self, request: HttpRequest, obj: StreamingProfile, form: ModelForm, change: bool
    ) -> None:
        """Create or update through the services; the form has already validated everything
        (URL, uniqueness) the services check again, so a failure here is a real race."""
        if change:
            streaming_profile_update(
                profile=obj, changed_fields=form.changed_data, actor=_actor(request)
            )
            return
        with_secret = bool(form.cleaned_data.get("generate_secret"))
        profile = streaming_profile_create(
            product_type=obj.product_type,
            product_id=obj.product_id,
            sub_account_id=obj.sub_account_id,
            main_account_id=obj.main_account_id,
            rc_account_id=obj.rc_account_id,
            streaming_url=obj.streaming_url,
            with_secret=with_secret,
            enabled=obj.enabled,
            retention_days=obj.retention_days,
            notes=obj.notes,
            actor=_actor(request),
        )
        # The admin goes on with ``obj`` (history entry, redirect): make it the saved row.
        for field in StreamingProfile._meta.concrete_fields:
            setattr(obj, field.attname, getattr(profile, field.attname))
        obj._state.adding = False
        obj._state.db = profile._state.db
        if profile.secret:
            _announce_secret(request, profile, profile.secret)
        else:
            messages.warning(
                request,
                f"{profile} has no secret: the ingest accepts its streams without one.",
            )

    def delete_model(self, request: HttpRequest, obj: StreamingProfile) -> None:
        streaming_profile_delete(profile=obj, actor=_actor(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[StreamingProfile]) -> None:
        with transaction.atomic():
            for profile in queryset:
                streaming_profile_delete(profile=profile, actor=_actor(request))

    @admin.display(description="RingCX sync", ordering="sync_state")
    def sync_status(self, obj: StreamingProfile) -> str:
        label = obj.get_sync_state_display()
        if obj.sync_state == SyncState.SYNCED and obj.synced_at:
            return f"{label} {obj.synced_at:%Y-%m-%d %H:%M} UTC"
        if obj.sync_state == SyncState.FAILED and obj.sync_error:
            return f"{label}: {obj.sync_error[:120]}"
        if obj.sync_state == SyncState.DRIFT and obj.drift:
            return f"{label}: {', '.join(sorted(obj.drift))}"
        return label

    @admin.display(description="differences found at the last check")
    def drift_display(self, obj: StreamingProfile) -> str:
        if not obj.drift:
            return "none"
        return format_html_join(
            "",
            "<div><strong>{}</strong>: here {}, RingCX {}</div>",
            ((name, d.get("local"), d.get("ringcx")) for name, d in sorted(obj.drift.items())),
        )

    @admin.action(
        description="Verify with RingCX (report differences, change nothing)",
        permissions=["change"],
    )
    def verify_with_ringcx(
        self, request: HttpRequest, queryset: QuerySet[StreamingProfile]
    ) -> None:
        for profile in queryset:
            result = streaming_profile_verify(profile_id=profile.pk)
            if result.action == "failed":
                self.message_user(
                    request, f"{profile}: could not check: {result.detail}", messages.ERROR
                )
            elif result.drift:
                self.message_user(
                    request,
                    f"{profile}: RingCX differs in {', '.join(sorted(result.drift))}. "
                    "Use “Push to RingCX” to make RingCX match.",
                    messages.WARNING,
                )
            else:
                self.message_user(request, f"{profile}: RingCX matches.", messages.SUCCESS)

    @admin.action(
        description="Push to RingCX (make RingCX match this profile)", permissions=["change"]
    )
    def push_to_ringcx(self, request: HttpRequest, queryset: QuerySet[StreamingProfile]) -> None:
        with transaction.atomic():
            for profile in queryset:
                streaming_profile_sync_request(profile=profile)
        self.message_user(
            request, f"Queued {queryset.count()} profile(s) for RingCX.", messages.SUCCESS
        )

    @admin.action(description="Rotate secret (shows the new secrets once)", permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[StreamingProfile]) -> None:
        # All or none: a failure half-way must not leave rotated secrets nobody was shown.
        with transaction.atomic():
            rotated = [
                (profile, streaming_profile_rotate_secret(profile=profile, actor=_actor(request)))
                for profile in queryset
            ]
        for profile, secret in rotated:
            _announce_secret(request, profile, secret)

    @admin.action(
        description="Rotate agent iFrame key (old URLs stop working)", permissions=["change"]
    )
    def rotate_embed_key(self, request: HttpRequest, queryset: QuerySet[StreamingProfile]) -> None:
        with transaction.atomic():
            rotated = [embed_key_rotate(profile=p, actor=_actor(request)) for p in queryset]
        for profile in rotated:
            self.message_user(
                request,
                f"{profile}: new agent iFrame key; paste the new URL from its page into the "
                "agent script.",
                messages.SUCCESS,
            )

    @admin.action(description="Disable", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet[StreamingProfile]) -> None:
        count = 0
        for profile in queryset.filter(enabled=True):
            streaming_profile_disable(profile=profile, actor=_actor(request))
            count += 1
        self.message_user(request, f"Disabled {count} streaming profile(s).", messages.SUCCESS)


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


# --- transcripts -------------------------------------------------------------------------------


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
