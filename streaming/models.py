"""Where Django finds the streaming app's models; each lives with the part of the app it serves.

- streaming profiles: ``streaming/profiles/models.py``
- the ingest handshake log: ``streaming/ingest/models.py``
- transcripts: ``streaming/transcription/models.py``

``validate_streaming_url`` stays importable here: migration 0001 names it by this path.
"""

from streaming.ingest.models import HandshakeOutcome, IngestHandshake
from streaming.profiles.models import (
    ProductType,
    StreamingProfile,
    SyncState,
    validate_streaming_url,
)
from streaming.transcription.models import (
    Speaker,
    Transcript,
    TranscriptKind,
    TranscriptSegment,
    TranscriptStatus,
    UnredactedSegment,
)

__all__ = [
    "HandshakeOutcome",
    "IngestHandshake",
    "ProductType",
    "Speaker",
    "StreamingProfile",
    "SyncState",
    "Transcript",
    "TranscriptKind",
    "TranscriptSegment",
    "TranscriptStatus",
    "UnredactedSegment",
    "validate_streaming_url",
]
