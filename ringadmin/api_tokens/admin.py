"""API tokens in the admin: issued through the service (audited) and shown once, right after
saving, in a message; afterwards only the prefix is ever displayed. Tokens are revoked, not
edited or deleted, so the record of who held which token stays."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from ringadmin.api_tokens.models import ApiToken
from ringadmin.api_tokens.services import api_token_create, api_token_revoke

ONCE_NOTE = "copy it now, it will not be shown again."


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = (
        "prefix",
        "name",
        "user",
        "state_display",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    list_filter = ("revoked_at", "expires_at")
    search_fields = ("prefix", "name", "user__username")
    list_select_related = ("user",)
    actions = ("revoke",)
    add_fields = ("user", "name", "expires_at")
    readonly_fields = (
        "user",
        "name",
        "prefix",
        "state_display",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )

    @admin.display(description="state")
    def state_display(self, obj: ApiToken) -> str:
        return obj.state(now=timezone.now())

    def get_fields(self, request: HttpRequest, obj: ApiToken | None = None):
        return self.add_fields if obj is None else self.readonly_fields

    def get_readonly_fields(self, request: HttpRequest, obj: ApiToken | None = None):
        return () if obj is None else self.readonly_fields

    def has_delete_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return False  # revoke instead: the token's record stays with the audit trail

    def save_model(
        self, request: HttpRequest, obj: ApiToken, form: ModelForm, change: bool
    ) -> None:
        if change:
            return  # nothing on a token's page is editable
        issued = api_token_create(
            user=form.cleaned_data["user"],
            name=form.cleaned_data["name"],
            expires_at=form.cleaned_data.get("expires_at"),
            created_by=request.user,
            ip_address=request.META.get("REMOTE_ADDR"),
        )
        # The admin goes on with ``obj`` (its log entry, the redirect): make it the saved token.
        for field in ApiToken._meta.concrete_fields:
            setattr(obj, field.attname, getattr(issued.token, field.attname))
        obj._state.adding = False
        messages.success(
            request,
            format_html(
                'API token for {}: <code class="api-token">{}</code> — {}',
                issued.token.user.get_username(),
                issued.secret,
                ONCE_NOTE,
            ),
        )

    @admin.action(description="Revoke selected API tokens", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        revoked = sum(
            api_token_revoke(
                token=token, revoked_by=request.user, ip_address=request.META.get("REMOTE_ADDR")
            )
            for token in queryset.select_related("user")
        )
        self.message_user(request, f"Revoked {revoked} API token(s).", messages.SUCCESS)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"user": request.user.pk}
