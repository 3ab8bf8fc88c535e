"""Where Django's admin finds the streaming app's pages; each part registers its own:
profiles (``streaming/profiles/admin.py``), the handshake log (``streaming/ingest/admin.py``)
and transcripts (``streaming/transcription/admin.py``)."""

# Imported for their registrations.
from streaming.ingest import admin as ingest_admin
from streaming.profiles import admin as profiles_admin
from streaming.transcription import admin as transcription_admin

__all__ = ["ingest_admin", "profiles_admin", "transcription_admin"]
