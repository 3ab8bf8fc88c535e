"""RingCX's WebSocket streaming messages, parsed and validated.

Every malformed input raises :class:`ProtocolError` with a stable ``kind`` (counted per call)
and a human message; nothing here can take the connection down.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass, field
from typing import Any

import orjson

PARTICIPANT = "Participant"  # the agent: left channel
CONFERENCE = "Conference"  # the caller and every other leg: right channel
PERSPECTIVES = (PARTICIPANT, CONFERENCE)
_PERSPECTIVE_NAMES = {p.lower(): p for p in PERSPECTIVES}

MULAW_CONTENT_TYPES = {"audio/x-mulaw", "audio/mulaw", "audio/pcmu", "audio/basic", "mulaw", "pcmu"}
SUPPORTED_SAMPLE_RATE = 8000
# Fields of Connected and Start (and their metadata) that carry the stream's secret. They are
# also in ringadmin.logging.SECRET_NAMES, so every log line and stored copy masks them.
SECRET_FIELDS = ("secret", "token", "authorization")
# A sender's clock ("sentAt", epoch seconds) outside this range cannot be one (year 5138).
SENT_AT_MAX = 1e11


class ProtocolError(ValueError):
    """A message we cannot use. ``kind`` is a short stable name for counting."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(slots=True)
class Connected:
    protocol: str
    version: str
    secret: str | None


@dataclass(slots=True)
class Start:
    metadata: dict[str, Any]
    call_id: str
    session_id: str
    content_type: str
    sample_rate: int
    secret: str | None


@dataclass(slots=True)
class Media:
    perspective: str
    sequence: int
    payload: bytes
    sent_at: float | None = None


@dataclass(slots=True)
class Stop:
    metadata: dict[str, Any] = field(default_factory=dict)
    perspective: str | None = None


Message = Connected | Start | Media | Stop


def _shown(value: Any, limit: int = 30) -> str:
    """A value for an error message: a string or number cut short, else its type. Never
    ``str()`` of a container: a frame may nest them deeper than ``repr`` can go."""
    if isinstance(value, str):
        return repr(value[:limit])
    if type(value) in (int, float, bool) or value is None:
        return repr(value)[:limit]
    return type(value).__name__


def perspective_normalize(value: Any) -> str | None:
    return _PERSPECTIVE_NAMES.get(value.lower()) if isinstance(value, str) else None


def _sequence(value: Any) -> int:
    if type(value) is int:
        sequence = value
    elif isinstance(value, str):
        try:
            sequence = int(value.strip())
        except ValueError:
            raise ProtocolError(
                "bad_sequence", f"sequenceId {value[:20]!r} is not a number"
            ) from None
    else:
        raise ProtocolError("bad_sequence", f"sequenceId has type {type(value).__name__}")
    if sequence < 0:
        raise ProtocolError("bad_sequence", "sequenceId is negative")
    # A signed 64-bit counter at most: no stream comes near it, and a number the sender
    # makes up must not cost arithmetic on thousands of digits for every frame after it.
    if sequence > 2**63 - 1:
        raise ProtocolError("sequence_out_of_range", "sequenceId is larger than 2^63 - 1")
    return sequence


def _media(obj: dict[str, Any]) -> Media:
    perspective = perspective_normalize(obj.get("perspective"))
    if perspective is None:
        raise ProtocolError(
            "bad_perspective",
            f"perspective {_shown(obj.get('perspective'))} is not Participant or Conference",
        )
    sequence = _sequence(obj.get("sequenceId"))
    media = obj.get("media")
    if not isinstance(media, str):
        raise ProtocolError("bad_media", "media is missing or not a base64 string")
    try:
        payload = binascii.a2b_base64(media, strict_mode=True)
    except ValueError:  # binascii.Error, or characters outside ASCII
        raise ProtocolError("bad_base64", "media is not valid base64") from None
    if not payload:
        raise ProtocolError("empty_media", "media is empty")
    sent_at = obj.get("sentAt")
    if sent_at is not None:  # only test streams carry it; a lag is measured from it
        sent_at = (
            float(sent_at) if type(sent_at) in (int, float) and 0 < sent_at < SENT_AT_MAX else None
        )
    return Media(perspective, sequence, payload, sent_at)


def _secret_field(obj: dict[str, Any]) -> str | None:
    metadata = obj.get("metadata")
    for source in (obj, metadata if isinstance(metadata, dict) else {}):
        for key in SECRET_FIELDS:
            value = source.get(key)
            if isinstance(value, str) and value:
                return value.removeprefix("Bearer ").strip()
    return None


def _start(obj: dict[str, Any]) -> Start:
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        raise ProtocolError("bad_start", "Start has no metadata object")
    call_id = _identifier(metadata.get("callId"), "callId")
    if not call_id:
        raise ProtocolError("bad_start", "Start metadata has no callId")
    session_id = _identifier(metadata.get("sessionId"), "sessionId")
    content_type = metadata.get("contentType", metadata.get("audioContentType", "audio/x-mulaw"))
    if not isinstance(content_type, str):
        raise ProtocolError("bad_start", "Start metadata contentType is not a string")
    rate = metadata.get("sampleRateHertz", SUPPORTED_SAMPLE_RATE)
    try:
        if type(rate) is bool:
            raise TypeError
        rate = int(rate)
    except (TypeError, ValueError, OverflowError):
        raise ProtocolError(
            "bad_start", f"sampleRateHertz {_shown(rate)} is not a number"
        ) from None
    clean = {k: v for k, v in metadata.items() if k not in SECRET_FIELDS}
    return Start(clean, call_id, session_id, content_type, rate, _secret_field(obj))


def _identifier(value: Any, name: str) -> str:
    """A call or session id: a string or a whole number (never a bool); missing is ``""``."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if type(value) is int:
        return str(value)
    raise ProtocolError("bad_start", f"Start metadata {name} is not a string or whole number")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def is_supported_audio(start: Start) -> bool:
    content_type = start.content_type.split(";", 1)[0].strip().lower()
    return content_type in MULAW_CONTENT_TYPES and start.sample_rate == SUPPORTED_SAMPLE_RATE


def parse(text: str | bytes) -> Message:
    """One frame → one message, or ``ProtocolError``."""
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError:  # also invalid UTF-8
        raise ProtocolError("malformed_json", "frame is not valid JSON") from None
    if not isinstance(obj, dict):
        raise ProtocolError("malformed_json", "frame is not a JSON object")
    event = obj.get("event")
    if event == "Media":
        return _media(obj)
    if event == "Start":
        return _start(obj)
    if event == "Stop":
        metadata = obj.get("metadata")
        return Stop(
            metadata if isinstance(metadata, dict) else {},
            perspective_normalize(obj.get("perspective")),
        )
    if event == "Connected":
        return Connected(_text(obj.get("protocol")), _text(obj.get("version")), _secret_field(obj))
    raise ProtocolError("unknown_event", f"unknown event {_shown(event)}")
