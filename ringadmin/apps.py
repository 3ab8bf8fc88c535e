from django.apps import AppConfig


class RingadminConfig(AppConfig):
    """The project package itself: management commands, templates tags and wiring."""

    name = "ringadmin"
    verbose_name = "ringadmin"

    def ready(self) -> None:
        # The Celery application becomes the current one, so every ``shared_task`` sent from
        # this process (web, ingest, commands) goes through its broker and settings.
        import ringadmin.celery  # noqa: F401
