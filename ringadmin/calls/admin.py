from django.contrib import admin

from ringadmin.calls.models import Call


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
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
    readonly_fields = [f.name for f in Call._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
