"""The project's settings (``DJANGO_SETTINGS_MODULE=ringadmin.settings``)."""

from ringadmin.settings.base import *  # noqa: F403
