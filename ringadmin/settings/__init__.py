"""The project's settings (``DJANGO_SETTINGS_MODULE=ringadmin.settings``), one module a topic.

Everything is read from the environment (or the ``.env`` file) through ``base.env``. Importing
them has no other effect: directories are made when the processes start
(``ringadmin.apps.ensure_dirs``), and nothing changes them while a process runs.
"""

from ringadmin.settings.api import *  # noqa: F403
from ringadmin.settings.base import *  # noqa: F403
from ringadmin.settings.ingest import *  # noqa: F403
from ringadmin.settings.security import *  # noqa: F403
from ringadmin.settings.signin import *  # noqa: F403
from ringadmin.settings.transcription import *  # noqa: F403
from ringadmin.settings.vendors import *  # noqa: F403
