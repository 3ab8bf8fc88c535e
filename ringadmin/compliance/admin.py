from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path

from ringadmin.admin_readonly import ReadOnlyAdminMixin
from ringadmin.compliance.consent import NoticeError, notice_draft, notice_publish, notice_retire
from ringadmin.compliance.consent_models import NoticeStatus
from ringadmin.compliance.legal_holds import (
    LegalHoldInvalid,
    legal_hold_build,
    legal_hold_release,
    legal_hold_set,
)
from ringadmin.compliance.models import (
    AuditEvent,
    CallPurge,
    ConsentNotice,
    ConsentNoticeSeries,
    ConsentRecord,
    LegalHold,
)


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


@admin.register(ConsentNoticeSeries)
class ConsentNoticeSeriesAdmin(admin.ModelAdmin):
    list_display = ("key", "name", "created_at")
    search_fields = ("key", "name")

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return ("key",) if obj is not None else ()

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


NOTICE_EDITABLE = (
    "series",
    "kind",
    "language",
    "jurisdiction_note",
    "text",
    "key_phrase",
    "window_seconds",
    "effective_from",
    "effective_to",
)


@admin.register(ConsentNotice)
class ConsentNoticeAdmin(admin.ModelAdmin):
    """Drafts are edited here; publishing and retiring go through the services (audited) and
    a published version is read-only."""

    list_display = ("series", "version", "kind", "language", "status", "effective_from")
    list_filter = ("status", "kind", "language", "series")
    actions = ("publish_selected", "retire_selected")
    change_form_template = "admin/compliance/consentnotice/change_form.html"

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        base = ("version", "status", "published_at", "published_by", "retired_at")
        if obj is not None and obj.status != NoticeStatus.DRAFT:
            return (*NOTICE_EDITABLE, *base)
        return base

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        if obj is not None and obj.status != NoticeStatus.DRAFT:
            return False  # shown read-only; publishing and retiring are actions
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return (
            obj is not None
            and obj.status == NoticeStatus.DRAFT
            and super().has_delete_permission(request, obj)
        )

    def save_model(self, request: HttpRequest, obj: ConsentNotice, form, change: bool) -> None:
        if change:
            obj.save()  # a draft; the model refuses a published version
            return
        created = notice_draft(
            series=obj.series,
            kind=obj.kind,
            text=obj.text,
            key_phrase=obj.key_phrase,
            window_seconds=obj.window_seconds,
            language=obj.language,
            jurisdiction_note=obj.jurisdiction_note,
            effective_from=obj.effective_from,
            effective_to=obj.effective_to,
            actor=request.user,
        )
        obj.pk = created.pk
        obj.version = created.version
        obj._state.adding = False

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/preview/",
                wrap(self.preview_view),
                name="compliance_consentnotice_preview",
            ),
            *super().get_urls(),
        ]

    def preview_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_view_permission(request):
            return redirect("admin:index")
        notice = get_object_or_404(ConsentNotice.objects.select_related("series"), pk=pk)
        context = {**self.admin_site.each_context(request), "notice": notice, "title": str(notice)}
        return TemplateResponse(request, "admin/compliance/consentnotice/preview.html", context)

    def _each(self, request: HttpRequest, queryset: QuerySet, service, verb: str) -> None:
        if not self.has_change_permission(request):
            self.message_user(request, "You may not change notices.", messages.ERROR)
            return
        for notice in queryset:
            try:
                service(notice=notice, actor=request.user)
            except NoticeError as exc:
                self.message_user(request, f"{notice}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{notice.series.key} v{notice.version} {verb}.")

    @admin.action(description="Publish the selected drafts")
    def publish_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, notice_publish, "published")

    @admin.action(description="Retire the selected published versions")
    def retire_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, notice_retire, "retired")


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("call", "method", "outcome", "verification", "given_at")
    list_filter = ("outcome", "verification", "method")
    list_select_related = ("call", "notice")
    readonly_fields = [f.name for f in ConsentRecord._meta.fields]
