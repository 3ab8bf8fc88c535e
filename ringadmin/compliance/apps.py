from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ComplianceConfig(AppConfig):
    """Compliance core: roles, the append-only audit trail (consent and retention come later)."""

    name = "ringadmin.compliance"
    label = "compliance"
    verbose_name = "Compliance"

    def ready(self) -> None:
        # Here, not at the top: both use models, importable only once the registry is ready.
        from ringadmin.compliance import receivers, roles

        receivers.connect()
        # Permissions of apps added later must reach the roles too: resync after every migrate.
        post_migrate.connect(roles.sync_roles_after_migrate, dispatch_uid="ringadmin.roles.sync")
