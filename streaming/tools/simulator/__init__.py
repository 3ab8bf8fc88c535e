"""Simulate RingCX call streaming over WebSocket, with load and faults.

RingCX cannot be pointed at a developer's machine, and the ingest must be shown to survive
what the protocol leaves open (reordering, duplicates, drops, split or dropped sockets,
malformed frames) and to keep up with hundreds of calls. This package speaks the protocol as
RingCX does and is usable three ways: as a library (``await simulate(config)``, used by the
tests and the benchmark), as ``python -m streaming.tools.simulator``, and as
``manage.py ringcx_simulate``.

It is pure asyncio + ``websockets`` + numpy and imports no Django, so the benchmark can run
it in its own process pinned to its own core. Modules: ``audio`` (WAV, tone, G.711 frames),
``config`` (what to simulate), ``plan`` (the faults of each call, decided up front),
``client`` (streaming the calls), ``report`` (what was sent) and ``cli`` (the options).
"""

from streaming.audio.lag import LagHistogram
from streaming.audio.mulaw import decode as mulaw_decode
from streaming.audio.mulaw import encode as mulaw_encode

from .audio import (
    CONFERENCE,
    FRAME_SAMPLES,
    FRAME_SECONDS,
    MULAW_DECODE_TABLE,
    PARTICIPANT,
    PERSPECTIVES,
    SAMPLE_RATE,
    AudioError,
    StereoAudio,
    frame_payloads,
    load_wav,
    resample,
    tone_audio,
)
from .cli import add_arguments, config_from_options, main, run_from_options
from .client import simulate
from .config import MALFORMED_KINDS, NUMBERINGS, SECRET_PLACES, SimulationConfig
from .report import (
    CallReport,
    ConnectionReport,
    PerspectiveReport,
    SentFrame,
    SimulationReport,
    format_summary,
)

__all__ = [
    "CONFERENCE",
    "FRAME_SAMPLES",
    "FRAME_SECONDS",
    "MALFORMED_KINDS",
    "MULAW_DECODE_TABLE",
    "NUMBERINGS",
    "PARTICIPANT",
    "PERSPECTIVES",
    "SAMPLE_RATE",
    "SECRET_PLACES",
    "AudioError",
    "CallReport",
    "ConnectionReport",
    "LagHistogram",
    "PerspectiveReport",
    "SentFrame",
    "SimulationConfig",
    "SimulationReport",
    "StereoAudio",
    "add_arguments",
    "config_from_options",
    "format_summary",
    "frame_payloads",
    "load_wav",
    "main",
    "mulaw_decode",
    "mulaw_encode",
    "resample",
    "run_from_options",
    "simulate",
    "tone_audio",
]
