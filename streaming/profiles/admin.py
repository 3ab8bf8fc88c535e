"""Admin for streaming profiles: every change goes through the services, which audit it.

A profile's secret is shown once, in the success message right after it is generated (on
creation or rotation), and masked everywhere else: it never appears in a form, a list, a
handshake page or a log line.
"""

from __future__ import annotations

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

from streaming.profiles.embed import embed_key_rotate, script_studio_url
from streaming.profiles.models import StreamingProfile, SyncState
from streaming.profiles.services import (
    streaming_profile_create,
    streaming_profile_delete,
    streaming_profile_disable,
    streaming_profile_rotate_secret,
    streaming_profile_sync_request,
    streaming_profile_update,
)
from streaming.profiles.sync import streaming_profile_verify

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
                    "consent_notice_series",
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
