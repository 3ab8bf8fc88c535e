"""The wire between an ingest process and a live transcription worker (pure, asyncio streams).

Each message is ``!IB`` (length of what follows the length field, type) and a payload:

- ``OPEN``: JSON ``{"stream", "call", "speaker", "start_sample"}``: a channel of a call begins.
- ``AUDIO``: ``!IQ`` (stream, start sample on the recording's 8 kHz timeline) + ``int16`` PCM.
- ``END``: ``!I`` (stream): the channel ended; the worker finishes its last utterance.
- ``RESULT``: JSON ``{"stream", "utterance", "text", "start", "end", "is_final", "words",
  "audio_end_at"}`` from the worker; ``{"stream", "closed": true}`` after the last one.

Binary audio (not JSON) keeps the ingest's side to a memory copy per chunk.
"""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

import numpy as np

HEADER = struct.Struct("!IB")
AUDIO_HEADER = struct.Struct("!IQ")
STREAM = struct.Struct("!I")
OPEN, AUDIO, END, RESULT = 1, 2, 3, 4
MAX_MESSAGE = 4 * 1024 * 1024


class ProtocolError(ValueError):
    """The peer sent something that is not this protocol."""


def encode_json(kind: int, payload: dict[str, Any]) -> bytes:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return HEADER.pack(len(body) + 1, kind) + body


def encode_audio(stream: int, start_sample: int, samples: np.ndarray) -> bytes:
    body = AUDIO_HEADER.pack(stream, start_sample) + samples.astype("<i2", copy=False).tobytes()
    return HEADER.pack(len(body) + 1, AUDIO) + body


def encode_end(stream: int) -> bytes:
    return HEADER.pack(STREAM.size + 1, END) + STREAM.pack(stream)


async def read_message(reader: asyncio.StreamReader) -> tuple[int, bytes] | None:
    """One message, or None at a clean end of stream."""
    try:
        head = await reader.readexactly(HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ProtocolError("connection ended inside a message header") from exc
        return None
    length, kind = HEADER.unpack(head)
    if not 1 <= length <= MAX_MESSAGE or kind not in (OPEN, AUDIO, END, RESULT):
        raise ProtocolError(f"bad message header (length {length}, type {kind})")
    body = await reader.readexactly(length - 1)
    return kind, body


def decode_json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ProtocolError(f"bad JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ProtocolError("a JSON object was expected")
    return data


def decode_audio(body: bytes) -> tuple[int, int, np.ndarray]:
    if len(body) < AUDIO_HEADER.size or (len(body) - AUDIO_HEADER.size) % 2:
        raise ProtocolError("bad audio message")
    stream, start = AUDIO_HEADER.unpack_from(body)
    return stream, start, np.frombuffer(body, dtype="<i2", offset=AUDIO_HEADER.size)


def decode_end(body: bytes) -> int:
    if len(body) != STREAM.size:
        raise ProtocolError("bad end message")
    return STREAM.unpack(body)[0]
