from django.apps import AppConfig


class CallsConfig(AppConfig):
    """The ``Call`` record every part of the product refers to."""

    name = "ringadmin.calls"
    label = "calls"
    verbose_name = "Calls"
    admins_manage_models = True  # Admins hold every permission of its models
