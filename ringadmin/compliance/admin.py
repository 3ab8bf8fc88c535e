from django.contrib import admin

from ringadmin.admin_readonly import ReadOnlyAdminMixin
from ringadmin.compliance.models import AuditEvent


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
