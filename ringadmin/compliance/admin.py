from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from ringadmin.admin_readonly import ReadOnlyAdminMixin
from ringadmin.compliance.legal_holds import (
    LegalHoldInvalid,
    legal_hold_build,
    legal_hold_release,
    legal_hold_set,
)
from ringadmin.compliance.models import AuditEvent, CallPurge, LegalHold


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The audit trail is read-only everywhere, admin included."""

    list_display = (
        "sequence",
        "occurred_at",
        "event_type",
        "actor_label",
        "target_type",
        "target_id",
        "ip_address",
    )
    list_filter = ("event_type", "occurred_at")
    search_fields = ("actor_label", "target_id", "target_type")
    list_select_related = ("actor",)
    date_hierarchy = "occurred_at"
    readonly_fields = [f.name for f in AuditEvent._meta.fields]


class LegalHoldForm(forms.ModelForm):
    class Meta:
        model = LegalHold
        fields = [
            "reason",
            "call",
            "agent_id",
            "product_type",
            "product_id",
            "started_from",
            "started_until",
            "phone",
            "release_reason",
        ]

    def clean(self) -> dict[str, Any]:
        """The service's checks, shown on the form instead of a server error."""
        cleaned = super().clean() or {}
        if self.instance.pk is None:
            try:
                legal_hold_build(
                    actor=None,
                    reason=cleaned.get("reason") or "",
                    call=cleaned.get("call"),
                    agent_id=cleaned.get("agent_id") or "",
                    product_type=cleaned.get("product_type") or "",
                    product_id=cleaned.get("product_id") or "",
                    started_from=cleaned.get("started_from"),
                    started_until=cleaned.get("started_until"),
                    phone=cleaned.get("phone") or "",
                )
            except LegalHoldInvalid as error:
                raise forms.ValidationError(str(error)) from error
        elif not (cleaned.get("release_reason") or "").strip():
            raise forms.ValidationError("Give the reason for releasing this hold.")
        return cleaned


@admin.register(LegalHold)
class LegalHoldAdmin(admin.ModelAdmin):
    """Auditors and admins set holds here; a hold is released (with a reason), never deleted."""

    form = LegalHoldForm
    list_display = ("id", "reason", "set_by", "set_at", "released_at", "call", "phone", "agent_id")
    list_filter = ("released_at", "set_at")
    search_fields = ("reason", "phone", "agent_id", "product_id")
    raw_id_fields = ("call",)
    readonly_fields = ("set_by", "set_at", "released_by", "released_at")

    def get_fields(self, request: HttpRequest, obj: LegalHold | None = None):
        if obj is None:
            return [f for f in LegalHoldForm.Meta.fields if f != "release_reason"]
        return [*LegalHoldForm.Meta.fields, *self.readonly_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: LegalHold | None = None):
        if obj is None:
            return ()
        fixed = [f for f in LegalHoldForm.Meta.fields if f != "release_reason"]
        if obj.released_at is not None:
            fixed.append("release_reason")
        return (*fixed, *self.readonly_fields)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: LegalHold, form: Any, change: bool) -> None:
        """Set or release through the services (audited)."""
        if change:
            released = legal_hold_release(
                hold=obj, actor=request.user, reason=form.cleaned_data["release_reason"]
            )
            obj.released_at, obj.released_by = released.released_at, released.released_by
            return
        hold = legal_hold_set(
            actor=request.user,
            reason=obj.reason,
            call=obj.call,
            agent_id=obj.agent_id,
            product_type=obj.product_type,
            product_id=obj.product_id,
            started_from=obj.started_from,
            started_until=obj.started_until,
            phone=obj.phone,
        )
        obj.pk, obj.set_at, obj.set_by = hold.pk, hold.set_at, hold.set_by


@admin.register(CallPurge)
class CallPurgeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Tombstones of purged calls: written by retention and erasure only."""

    list_display = ("call", "reason", "purged_at", "purged_by_label", "files_removed_at")
    list_filter = ("reason", "purged_at")
    raw_id_fields = ("call",)
