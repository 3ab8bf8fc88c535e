"""The Celery application. Settings come from Django settings under the ``CELERY_`` prefix."""

from __future__ import annotations

import logging.config
import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ringadmin.settings")

app = Celery("ringadmin")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def _logging_from_settings(**kwargs) -> None:
    """Workers and beat log through ``settings.LOGGING`` (at ``LOG_LEVEL``) like every other
    process.

    Without a receiver here Celery replaces the root logger's handler with its own format
    (never JSON) and turns ``print`` into log records.
    """
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
