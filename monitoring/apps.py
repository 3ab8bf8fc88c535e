from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    """Call supervision and the supervisors' pages."""

    name = "monitoring"
    verbose_name = "Call monitoring"
    admins_manage_models = True  # Admins hold every permission of its models
