"""ringadmin: the project package and the shared core (calls, compliance, vendor clients)."""

from ringadmin.celery import app as celery_app

__all__ = ["celery_app"]
