from django.apps import AppConfig


class CallsConfig(AppConfig):
    """The ``Call`` record every part of the product refers to."""

    name = "ringadmin.calls"
    label = "calls"
    verbose_name = "Calls"
