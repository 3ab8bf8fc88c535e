"""A local fake of three hosted speech-to-text APIs on loopback: ``FakeSpeech``.

Google Cloud Speech-to-Text v1 (with Cloud Storage uploads, long-running operations and the
service-account token exchange), Deepgram ``/v1/listen`` and OpenAI
``/v1/audio/transcriptions`` cannot be pointed at a CI runner, cost money per minute, and
rarely fail on demand. This server speaks their documented contracts, validates requests as
strictly as they do (answering in each vendor's own error envelope), and lets tests inject
429s, 5xx and slow answers through a control API under ``/_fake/``.

One module per vendor (``google``, ``google_cloud``, ``deepgram``, ``openai``), what the fake
hears (``hearing``), injected faults (``faults``), the fake itself and its control API
(``fake``), the HTTP plumbing (``handler``) and ``python -m tests.doubles.fake_speech``
(``cli``).
"""

from .cli import banner, main
from .common import (
    BANNER_TITLE,
    CONTROL_PREFIX,
    DEFAULT_BUCKET,
    DEFAULT_CLIENT_EMAIL,
    DEFAULT_DEEPGRAM_KEY,
    DEFAULT_GOOGLE_API_KEY,
    DEFAULT_OPENAI_KEY,
)
from .fake import FakeSpeech
from .openai import OPENAI_MAX_BYTES

__all__ = [
    "BANNER_TITLE",
    "CONTROL_PREFIX",
    "DEFAULT_BUCKET",
    "DEFAULT_CLIENT_EMAIL",
    "DEFAULT_DEEPGRAM_KEY",
    "DEFAULT_GOOGLE_API_KEY",
    "DEFAULT_OPENAI_KEY",
    "OPENAI_MAX_BYTES",
    "FakeSpeech",
    "banner",
    "main",
]
