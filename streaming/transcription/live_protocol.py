"""The wire between an ingest process and a live transcription worker (pure, asyncio streams).

**Where.** A worker listens on one endpoint (:func:`endpoint_parse`): ``unix:/path.sock`` (the
default on one host: a socket file only its owner may open), ``tcp://127.0.0.1:8710`` (plain TCP,
loopback only: call audio never crosses a network in clear) or ``tcp+tls://host:8710`` (TLS, for
a worker on another host; the ingest checks its certificate).

**Who.** Every connection starts with a mutual challenge-response over a key both ends were
given (``LIVE_TRANSCRIPTION_KEY``; ``manage.py serve`` makes one per instance). The worker
sends ``MAGIC`` and a random nonce; the ingest answers with its own nonce and
``HMAC-SHA256(key, "ingest" + both nonces)``; the worker checks it (constant time) and answers
``HMAC-SHA256(key, "worker" + both nonces)``, which the ingest checks before it sends any
audio. A peer without the key learns nothing and is closed: it can neither read a call's
audio nor inject transcript lines. The labels keep one side's answer from serving as the
other's.

**What.** Then each message is ``!IB`` (length of what follows the length field, type) and a
payload, each type with its own size limit (checked before the body is read):

- ``OPEN``: JSON ``{"stream", "call", "speaker", "start_sample"}``: a channel of a call begins.
- ``AUDIO``: ``!IQ`` (stream, start sample on the recording's 8 kHz timeline) + ``int16`` PCM.
- ``END``: ``!I`` (stream): the channel ended; the worker finishes its last utterance.
- ``RESULT``: JSON ``{"stream", "utterance", "text", "start", "end", "is_final", "words"}`` from
  the worker; ``{"stream", "closed": true}`` after the last one. The ingest keeps only results
  that pass :func:`result_parse`.

Binary audio (not JSON) keeps the ingest's side to a memory copy per chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import json
import math
import os
import secrets
import socket
import ssl
import stat
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HEADER = struct.Struct("!IB")
AUDIO_HEADER = struct.Struct("!IQ")
STREAM = struct.Struct("!I")
OPEN, AUDIO, END, RESULT = 1, 2, 3, 4
MAX_BODY = {  # per type, the bytes after the type
    OPEN: 4 * 1024,
    AUDIO: AUDIO_HEADER.size + 2 * 8000 * 30,  # 30 s of a channel; the ingest sends 0.2 s
    END: STREAM.size,
    RESULT: 256 * 1024,
}
TO_WORKER = frozenset({OPEN, AUDIO, END})
TO_INGEST = frozenset({RESULT})

MAGIC = b"RALIVE1\n"
NONCE_SIZE = 32
MAC_SIZE = 32
HANDSHAKE_SECONDS = 5.0
CONNECT_SECONDS = 5.0
MIN_KEY_LENGTH = 32

MAX_STREAM = 2**32 - 1
MAX_SECONDS = 10**7  # on a call's timeline: 115 days, longer than any call
MAX_START_SAMPLE = MAX_SECONDS * 8000
MAX_TEXT = 10_000
MAX_WORDS = 2_000
MAX_WORD_TEXT = 200
MAX_UTTERANCE = 10**9


class ProtocolError(ValueError):
    """The peer sent something that is not this protocol."""


class AuthenticationError(ProtocolError):
    """The peer does not hold the key (another instance's worker or ingest, or a stranger)."""


class HandshakeAbandoned(AuthenticationError):
    """The peer closed before sending a byte (a port probe): refused, but not worth a warning."""


# --- endpoints ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    scheme: str  # "unix", "tcp" (loopback only) or "tls"
    host: str = ""
    port: int = 0
    path: str = ""

    def __str__(self) -> str:
        if self.scheme == "unix":
            return f"unix:{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'tcp+tls' if self.scheme == 'tls' else 'tcp'}://{host}:{self.port}"

    @property
    def local(self) -> bool:
        """On this host: a worker ``manage.py serve`` starts itself."""
        return self.scheme == "unix" or is_loopback(self.host)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def endpoint_parse(text: str, *, listen: bool = False) -> Endpoint:
    """``unix:PATH``, ``tcp+tls://HOST:PORT``, or ``tcp://HOST:PORT`` / ``HOST:PORT`` on loopback.

    Plain TCP to (or, for a worker, on) any other address is refused: call audio would cross
    the network unencrypted. Port 0 (any free port) only where ``listen``.
    """
    text = text.strip()
    if text.startswith("unix:"):
        path = text.removeprefix("unix:").removeprefix("//")
        if not path or "\0" in path:
            raise ValueError(f"{text!r}: a Unix socket address needs a path (unix:/path.sock)")
        return Endpoint("unix", path=path)
    scheme = "tcp"
    if text.startswith("tcp+tls://"):
        scheme, text = "tls", text.removeprefix("tcp+tls://")
    elif text.startswith("tcp://"):
        text = text.removeprefix("tcp://")
    elif "://" in text:
        raise ValueError(f"{text!r}: use unix:PATH, tcp://HOST:PORT or tcp+tls://HOST:PORT")
    host, _, port_text = text.rpartition(":")
    host = host.strip("[]")
    if not host or not port_text.isdigit() or not (0 if listen else 1) <= int(port_text) <= 65535:
        raise ValueError(f"{text!r}: expected HOST:PORT")
    if scheme == "tcp" and not is_loopback(host):
        raise ValueError(
            f"{text!r}: plain TCP carries call audio unencrypted, so only a loopback address "
            "may use it; use tcp+tls://HOST:PORT for a worker on another host (or unix:PATH)"
        )
    return Endpoint(scheme, host=host, port=int(port_text))


def key_check(key: str | bytes) -> bytes:
    """The shared key as bytes; refuses one too short to be secret."""
    raw = key.encode() if isinstance(key, str) else key
    if len(raw) < MIN_KEY_LENGTH:
        raise ValueError(
            f"LIVE_TRANSCRIPTION_KEY must be at least {MIN_KEY_LENGTH} characters (e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return raw


def client_tls_context(ca_file: str = "") -> ssl.SSLContext:
    """The ingest's side: the worker's certificate must chain to ``ca_file`` (or the system's
    authorities) and name the host it was reached at."""
    context = ssl.create_default_context(cafile=ca_file or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def server_tls_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context


async def connect(
    endpoint: Endpoint, *, tls: ssl.SSLContext | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    if endpoint.scheme == "unix":
        opening = asyncio.open_unix_connection(endpoint.path)
    elif endpoint.scheme == "tls":
        opening = asyncio.open_connection(
            endpoint.host,
            endpoint.port,
            ssl=tls or client_tls_context(),
            server_hostname=endpoint.host,
            ssl_handshake_timeout=CONNECT_SECONDS,
        )
    else:
        opening = asyncio.open_connection(endpoint.host, endpoint.port)
    return await asyncio.wait_for(opening, CONNECT_SECONDS)


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def listen(
    endpoint: Endpoint, handler: Handler, *, tls: ssl.SSLContext | None = None
) -> tuple[asyncio.Server, str]:
    """A server on ``endpoint`` and the address it really has (the port when 0 was asked)."""
    if endpoint.scheme == "unix":
        sock = unix_socket_bind(Path(endpoint.path))
        server = await asyncio.start_unix_server(handler, sock=sock)
        return server, str(endpoint)
    if endpoint.scheme == "tls" and tls is None:
        raise ValueError(f"{endpoint} needs a certificate and key (LIVE_TRANSCRIPTION_TLS_CERT)")
    server = await asyncio.start_server(
        handler,
        endpoint.host,
        endpoint.port,
        ssl=tls if endpoint.scheme == "tls" else None,
        ssl_handshake_timeout=HANDSHAKE_SECONDS if endpoint.scheme == "tls" else None,
    )
    port = server.sockets[0].getsockname()[1]
    return server, str(Endpoint(endpoint.scheme, host=endpoint.host, port=port))


def unix_socket_bind(path: Path) -> socket.socket:
    """A listening Unix socket that only this user may open (0600, in a 0700 directory when we
    make it); a stale file left by a crash is replaced, a live worker's is not."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    if path.exists() or path.is_symlink():
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise OSError(f"{path} exists and is not a socket: refusing to replace it")
        with socket.socket(socket.AF_UNIX) as probe:
            try:
                probe.connect(str(path))
            except (ConnectionRefusedError, FileNotFoundError):
                path.unlink(missing_ok=True)  # nobody listens: left by a process that died
            else:
                raise OSError(f"another live transcription worker listens on {path}")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)  # never, even for an instant, a socket others may open
    try:
        sock.bind(str(path))
    except BaseException:
        sock.close()
        raise
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    sock.listen(128)
    sock.setblocking(False)
    return sock


# --- authentication ----------------------------------------------------------------------------


def _mac(key: bytes, label: bytes, worker_nonce: bytes, ingest_nonce: bytes) -> bytes:
    return hmac.new(key, label + worker_nonce + ingest_nonce, hashlib.sha256).digest()


async def _read_exactly(reader: asyncio.StreamReader, size: int, what: str) -> bytes:
    try:
        return await reader.readexactly(size)
    except asyncio.IncompleteReadError as exc:
        error = AuthenticationError if exc.partial else HandshakeAbandoned
        raise error(f"the peer closed the connection during {what}") from exc


async def worker_handshake(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    key: bytes,
) -> None:
    """The worker's side: raises ``AuthenticationError`` unless the peer proves the key."""
    worker_nonce = secrets.token_bytes(NONCE_SIZE)
    writer.write(MAGIC + worker_nonce)
    async with asyncio.timeout(HANDSHAKE_SECONDS):
        answer = await _read_exactly(reader, len(MAGIC) + NONCE_SIZE + MAC_SIZE, "the handshake")
    magic, rest = answer[: len(MAGIC)], answer[len(MAGIC) :]
    ingest_nonce, proof = rest[:NONCE_SIZE], rest[NONCE_SIZE:]
    if not hmac.compare_digest(magic, MAGIC):
        raise AuthenticationError("not a live transcription client")
    if not hmac.compare_digest(proof, _mac(key, b"ingest", worker_nonce, ingest_nonce)):
        raise AuthenticationError("the client does not hold this instance's key")
    writer.write(_mac(key, b"worker", worker_nonce, ingest_nonce))
    await writer.drain()


async def ingest_handshake(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    key: bytes,
) -> None:
    """The ingest's side: raises ``AuthenticationError`` unless the worker proves the key."""
    async with asyncio.timeout(HANDSHAKE_SECONDS):
        hello = await _read_exactly(reader, len(MAGIC) + NONCE_SIZE, "the handshake")
        if not hmac.compare_digest(hello[: len(MAGIC)], MAGIC):
            raise AuthenticationError("not a live transcription worker")
        worker_nonce = hello[len(MAGIC) :]
        ingest_nonce = secrets.token_bytes(NONCE_SIZE)
        writer.write(MAGIC + ingest_nonce + _mac(key, b"ingest", worker_nonce, ingest_nonce))
        await writer.drain()
        proof = await _read_exactly(reader, MAC_SIZE, "the handshake (refused?)")
    if not hmac.compare_digest(proof, _mac(key, b"worker", worker_nonce, ingest_nonce)):
        raise AuthenticationError("the worker does not hold this instance's key")


# --- messages ----------------------------------------------------------------------------------


def encode_json(kind: int, payload: dict[str, Any]) -> bytes:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return HEADER.pack(len(body) + 1, kind) + body


def encode_audio(stream: int, start_sample: int, samples: np.ndarray) -> bytes:
    body = AUDIO_HEADER.pack(stream, start_sample) + samples.astype("<i2", copy=False).tobytes()
    return HEADER.pack(len(body) + 1, AUDIO) + body


def encode_end(stream: int) -> bytes:
    return HEADER.pack(STREAM.size + 1, END) + STREAM.pack(stream)


async def read_message(
    reader: asyncio.StreamReader, *, accept: frozenset[int] = TO_WORKER | TO_INGEST
) -> tuple[int, bytes] | None:
    """One message of a type in ``accept``, or None at a clean end of stream. Its length is
    checked against the type's limit before the body is read."""
    try:
        head = await reader.readexactly(HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ProtocolError("connection ended inside a message header") from exc
        return None
    length, kind = HEADER.unpack(head)
    if kind not in accept or not 1 <= length <= MAX_BODY[kind] + 1:
        raise ProtocolError(f"bad message header (length {length}, type {kind})")
    try:
        body = await reader.readexactly(length - 1)
    except asyncio.IncompleteReadError as exc:
        raise ProtocolError("connection ended inside a message") from exc
    return kind, body


def decode_json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"bad JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ProtocolError("a JSON object was expected")
    return data


def decode_audio(body: bytes) -> tuple[int, int, np.ndarray]:
    if len(body) < AUDIO_HEADER.size or (len(body) - AUDIO_HEADER.size) % 2:
        raise ProtocolError("bad audio message")
    stream, start = AUDIO_HEADER.unpack_from(body)
    if start > MAX_START_SAMPLE:
        raise ProtocolError("audio starts beyond any call")
    return stream, start, np.frombuffer(body, dtype="<i2", offset=AUDIO_HEADER.size)


def decode_end(body: bytes) -> int:
    if len(body) != STREAM.size:
        raise ProtocolError("bad end message")
    return STREAM.unpack(body)[0]


def _integer(data: dict[str, Any], name: str, low: int, high: int) -> int:
    value = data.get(name)
    if type(value) is not int or not low <= value <= high:
        raise ProtocolError(f"{name!r} must be an integer from {low} to {high}")
    return value


def _seconds(data: dict[str, Any], name: str) -> float:
    value = data.get(name)
    if (
        (type(value) is not int and type(value) is not float)
        or not math.isfinite(value)
        or not 0 <= value <= MAX_SECONDS
    ):
        raise ProtocolError(f"{name!r} must be a time in seconds")
    return float(value)


def _text(data: dict[str, Any], name: str, limit: int) -> str:
    value = data.get(name)
    if not isinstance(value, str) or len(value) > limit:
        raise ProtocolError(f"{name!r} must be text of at most {limit} characters")
    return value


def open_parse(body: bytes) -> dict[str, Any]:
    """An ``OPEN`` from an ingest, checked: stream, call, speaker, start_sample."""
    data = decode_json(body)
    speaker = data.get("speaker")
    if speaker not in ("agent", "caller"):
        raise ProtocolError("'speaker' must be agent or caller")
    return {
        "stream": _integer(data, "stream", 1, MAX_STREAM),
        "call": _text(data, "call", 200) if "call" in data else "",
        "speaker": speaker,
        "start_sample": _integer(data, "start_sample", 0, MAX_START_SAMPLE),
    }


def result_parse(body: bytes) -> dict[str, Any]:
    """A ``RESULT`` from a worker, checked field by field; what is not listed is dropped."""
    data = decode_json(body)
    stream = _integer(data, "stream", 1, MAX_STREAM)
    if "closed" in data:
        if data["closed"] is not True:
            raise ProtocolError("'closed' must be true")
        return {"stream": stream, "closed": True}
    start, end = _seconds(data, "start"), _seconds(data, "end")
    if end < start:
        raise ProtocolError("a result cannot end before it starts")
    if not isinstance(data.get("is_final"), bool):
        raise ProtocolError("'is_final' must be true or false")
    words = data.get("words", [])
    if not isinstance(words, list) or len(words) > MAX_WORDS:
        raise ProtocolError(f"'words' must be a list of at most {MAX_WORDS}")
    return {
        "stream": stream,
        "utterance": _integer(data, "utterance", 0, MAX_UTTERANCE),
        "text": _text(data, "text", MAX_TEXT),
        "start": start,
        "end": end,
        "is_final": data["is_final"],
        "words": [_word(w) for w in words],
    }


def _word(word: Any) -> dict[str, Any]:
    if not isinstance(word, dict):
        raise ProtocolError("each word must be an object")
    confidence = word.get("confidence")
    if confidence is not None and (
        type(confidence) not in (int, float) or not 0 <= confidence <= 1
    ):
        raise ProtocolError("a word's confidence must be from 0 to 1")
    return {
        "start": _seconds(word, "start"),
        "end": _seconds(word, "end"),
        "text": _text(word, "text", MAX_WORD_TEXT),
        "confidence": None if confidence is None else float(confidence),
    }


def unix_socket_remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def close_quietly(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.close()
