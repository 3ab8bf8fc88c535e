from pathlib import Path

from django.apps import AppConfig
from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.utils.module_loading import import_string

SQLITE = "django.db.backends.sqlite3"
BROKER_FOLDER_OPTIONS = ("data_folder_in", "data_folder_out", "control_folder", "processed_folder")


def directories_needed() -> list[Path]:
    """The directories the settings name that must exist before a process uses them: SQLite's
    (and its test database's), the embedded Celery broker's folders, and ``STATIC_ROOT`` when
    static files are served from the finders (production's manifest storage needs
    ``collectstatic``, which makes it: an empty one would hide that it was not run)."""
    wanted = []
    for database in settings.DATABASES.values():
        if database["ENGINE"] != SQLITE:
            continue
        for name in (database.get("NAME"), (database.get("TEST") or {}).get("NAME")):
            if name and str(name) != ":memory:" and not str(name).startswith("file:"):
                wanted.append(Path(name).parent)
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        wanted += [Path(str(options[key])) for key in BROKER_FOLDER_OPTIONS if options.get(key)]
    storage = import_string(settings.STORAGES["staticfiles"]["BACKEND"])
    if not issubclass(storage, ManifestFilesMixin):
        wanted.append(Path(settings.STATIC_ROOT))
    return list(dict.fromkeys(wanted))


def ensure_dirs() -> None:
    """Make ``directories_needed()``: once per process, at start, not when settings load."""
    for directory in directories_needed():
        directory.mkdir(parents=True, exist_ok=True)


class RingadminConfig(AppConfig):
    """The project package itself: management commands, templates tags and wiring."""

    name = "ringadmin"
    verbose_name = "ringadmin"

    def ready(self) -> None:
        ensure_dirs()
        # The Celery application becomes the current one, so every ``shared_task`` sent from
        # this process (web, ingest, commands) goes through its broker and settings.
        import ringadmin.celery  # noqa: F401
