from django.apps import AppConfig


class RingadminConfig(AppConfig):
    """The project package itself: management commands, templates tags and wiring."""

    name = "ringadmin"
    verbose_name = "ringadmin"
