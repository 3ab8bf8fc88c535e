"""The three roles and exactly which permissions each holds.

Groups are created by a data migration and resynced after every ``migrate`` so permissions of
models added later reach the roles without hand edits. Superusers hold everything anyway.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from django.apps import apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission


class Role(StrEnum):
    ADMIN = "Admins"
    SUPERVISOR = "Supervisors"
    AUDITOR = "Auditors"

    @classmethod
    def from_name(cls, name: str) -> Role:
        """``admin``, ``Admins``, ``supervisor``… → a Role, or ``ValueError`` naming the choices."""
        wanted = name.strip().lower().rstrip("s")
        for role in cls:
            if role.value.lower().rstrip("s") == wanted:
                return role
        choices = ", ".join(r.value.lower().rstrip("s") for r in cls)
        raise ValueError(f"unknown role {name!r}: choose one of {choices}")


# Admins get every permission of the models (present and future) of each app whose AppConfig
# says ``admins_manage_models = True``: each app declares it, the core names none.
ADMINS_MANAGE_ATTRIBUTE = "admins_manage_models"
ADMIN_EXTRA = {
    "auth.add_user",
    "auth.change_user",
    "auth.view_user",
    "auth.view_group",
    "compliance.view_auditevent",
    "compliance.view_legalhold",
    "compliance.add_legalhold",
    "compliance.change_legalhold",
    "compliance.view_callpurge",
    "compliance.view_consentrecord",
    "compliance.export_consentrecord",
    "compliance.view_consentnotice",
    "compliance.add_consentnotice",
    "compliance.change_consentnotice",
    "compliance.view_consentnoticeseries",
    "compliance.add_consentnoticeseries",
    "compliance.change_consentnoticeseries",
}
SUPERVISOR_PERMISSIONS = {
    "calls.view_call",
    "calls.view_live_call",
    "calls.play_recording",
}
AUDITOR_PERMISSIONS = {
    "calls.view_call",
    "compliance.view_auditevent",
    "compliance.export_auditevent",
    "compliance.view_legalhold",
    "compliance.add_legalhold",
    "compliance.change_legalhold",
    "compliance.view_callpurge",
    "compliance.view_consentrecord",
    "compliance.export_consentrecord",
    "compliance.view_consentnotice",
}
# Nobody may add, change or delete audit entries through permissions: the service appends.
FORBIDDEN = {
    "compliance.add_auditevent",
    "compliance.change_auditevent",
    "compliance.delete_auditevent",
    "compliance.delete_legalhold",  # released, never deleted
    "compliance.add_callpurge",  # tombstones are written by the purge services only
    "compliance.change_callpurge",
    "compliance.delete_callpurge",
}
# Held by no role (Admins included, though they manage the app's models): granted to a person
# by hand, when policy allows, and every use is audited.
NOT_GRANTED_BY_ROLE = {"streaming.view_unredacted_transcript"}


def admin_apps() -> frozenset[str]:
    """Labels of the apps whose models Admins manage, as the apps declare."""
    return frozenset(
        config.label
        for config in apps.get_app_configs()
        if getattr(config, ADMINS_MANAGE_ATTRIBUTE, False)
    )


def intended_permissions(role: Role, available: Iterable[str]) -> set[str]:
    """The permission names (``app_label.codename``) a role should hold, among those existing."""
    available = set(available)
    if role is Role.ADMIN:
        managed = admin_apps()
        wanted = {p for p in available if p.split(".", 1)[0] in managed} | ADMIN_EXTRA
    elif role is Role.SUPERVISOR:
        wanted = set(SUPERVISOR_PERMISSIONS)
    else:
        wanted = set(AUDITOR_PERMISSIONS)
    return (wanted & available) - FORBIDDEN - NOT_GRANTED_BY_ROLE


def sync_roles(*, group_model, permission_model) -> None:
    """Create the groups and set their permissions exactly (works with migration models too)."""
    by_name = {
        f"{p.content_type.app_label}.{p.codename}": p
        for p in permission_model.objects.select_related("content_type")
    }
    for role in Role:
        group, _ = group_model.objects.get_or_create(name=role.value)
        wanted = intended_permissions(role, by_name)
        group.permissions.set([by_name[name] for name in sorted(wanted)])


def sync_roles_after_migrate(sender, using: str = "default", **kwargs) -> None:
    """After ``migrate``: make sure every app's permissions exist, then set the roles.

    Django creates an app's permissions in that app's own post_migrate handler, which may run
    after ours; creating them all here first means one ``migrate`` is always enough.
    """
    if sender.label != "compliance":  # once per migrate run
        return
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)
    sync_roles(group_model=Group, permission_model=Permission)
