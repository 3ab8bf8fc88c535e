"""A local fake of three hosted speech-to-text APIs on loopback: ``FakeSpeech``.

Google Cloud Speech-to-Text v1 (with Cloud Storage uploads, long-running operations and the
service-account token exchange), Deepgram ``/v1/listen`` and OpenAI
``/v1/audio/transcriptions`` cannot be pointed at a CI runner, cost money per minute, and
rarely fail on demand. This server speaks their documented contracts, validates requests as
strictly as they do (answering in each vendor's own error envelope), and lets tests inject
429s, 5xx and slow answers through a control API under ``/_fake/``.

It cannot recognise speech. It finds the voiced regions of each channel by energy and
"hears" the words of a script (``POST /_fake/script``) spread over them, so tests can check
channel mapping and word times; without a script each voiced region is one word,
``word1``, ``word2``, … Standard library, NumPy and ``cryptography`` (to verify JWTs), no
Django: ``python -m tests.doubles.fake_speech --port 8930``.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import secrets
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import unquote

from ringadmin.tools.vendor_fake.loopback import LoopbackFake

from .common import (
    CONTROL_PREFIX,
    DEFAULT_BUCKET,
    DEFAULT_CLIENT_EMAIL,
    DEFAULT_DEEPGRAM_KEY,
    DEFAULT_GOOGLE_API_KEY,
    DEFAULT_OPENAI_KEY,
    REQUEST_LOG_SIZE,
    TOKEN_PATH,
    FakeError,
    Request,
    Response,
    gcs_error,
    google_error,
    logger,
    openai_error,
    vendor_of,
)
from .deepgram import Deepgram
from .faults import FAULT_KEYS, Fault, fault_response
from .google import GoogleSpeech, Operation
from .google_cloud import GoogleCloud
from .handler import RequestHandler
from .openai import OpenAI


class FakeSpeech(GoogleSpeech, GoogleCloud, Deepgram, OpenAI, LoopbackFake):
    """The fake on a loopback port, in a daemon thread, with the control API as methods.

    ``with FakeSpeech() as fake: GoogleSpeechEngine(GoogleSpeechConfig(base_url=fake.url,
    api_key=fake.google_api_key, ...))``. Every method is thread-safe (one lock).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        google_api_key: str = DEFAULT_GOOGLE_API_KEY,
        deepgram_key: str = DEFAULT_DEEPGRAM_KEY,
        openai_key: str = DEFAULT_OPENAI_KEY,
        buckets: Sequence[str] = (DEFAULT_BUCKET,),
        operation_polls: int = 2,
        token_lifetime: int = 3600,
        log: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(
            host,
            port,
            log,
            handler=RequestHandler,
            thread_prefix="fake-speech",
            logger=logger,
            log_prefix="fake speech",
        )
        self.google_api_key = google_api_key
        self.deepgram_key = deepgram_key
        self.openai_key = openai_key
        self.buckets = set(buckets)
        self.operation_polls = operation_polls
        self.token_lifetime = token_lifetime
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self._reset_state()

    def _reset_state(self) -> None:
        self._script: dict[int | str, list[str]] = {}
        self._faults: list[Fault] = []
        self._requests: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_SIZE)
        self._objects: dict[tuple[str, str], tuple[bytes, str]] = {}
        self._operations: dict[str, Operation] = {}
        self._operation_errors: list[dict[str, Any]] = []
        self._tokens: dict[str, float] = {}
        self._accounts: dict[str, Any] = {}  # client_email → public key

    # --- lifecycle

    @property
    def token_uri(self) -> str:
        return f"{self.url}{TOKEN_PATH}"

    def _on_start(self) -> None:
        self._stopping.clear()

    def _on_stop(self) -> None:
        self._stopping.set()  # cuts injected delays short

    # --- control API mirrors

    def set_script(
        self,
        *,
        agent: str | None = None,
        caller: str | None = None,
        mono: str | None = None,
        channels: dict[int, str] | None = None,
    ) -> None:
        """What the fake hears: per channel of a multichannel request, and for mono requests.

        ``agent`` is channel 0 and ``caller`` channel 1 of a request with one recognition per
        channel; ``mono`` is for single-channel requests (each channel sent on its own).
        """
        script: dict[int | str, list[str]] = {}
        for key, text in {**(channels or {}), 0: agent, 1: caller, "mono": mono}.items():
            if text is not None:
                script[key] = text.split()
        with self._lock:
            self._script = script

    def clear_script(self) -> None:
        with self._lock:
            self._script = {}

    def add_fault(
        self,
        *,
        status: int | None = None,
        times: int | None = 1,
        retry_after: float | None = None,
        delay: float = 0.0,
        vendor: str | None = None,
        path_regex: str | None = None,
        method: str | None = None,
        code: str | None = None,
        message: str | None = None,
    ) -> str:
        """The next ``times`` matching requests answer ``status`` (after ``delay`` seconds)."""
        fault = Fault(
            id=f"fault-{next(self._ids)}",
            status=status,
            times=times,
            retry_after=retry_after,
            delay=delay,
            vendor=vendor,
            path_regex=path_regex,
            method=method,
            code=code,
            message=message,
        )
        with self._lock:
            self._faults.append(fault)
        return fault.id

    def clear_faults(self) -> None:
        with self._lock:
            self._faults = []

    def faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.describe() for f in self._faults]

    def requests(self, vendor: str | None = None) -> list[dict[str, Any]]:
        """What was sent (no bodies): path, query, auth kind, status and parsed details."""
        with self._lock:
            return [
                copy.deepcopy(r) for r in self._requests if vendor is None or r["vendor"] == vendor
            ]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def configure(
        self, *, operation_polls: int | None = None, token_lifetime: int | None = None
    ) -> dict[str, Any]:
        with self._lock:
            if operation_polls is not None:
                self.operation_polls = int(operation_polls)
            if token_lifetime is not None:
                self.token_lifetime = int(token_lifetime)
            return self._config()

    def _config(self) -> dict[str, Any]:
        return {
            "operation_polls": self.operation_polls,
            "token_lifetime": self.token_lifetime,
            "buckets": sorted(self.buckets),
        }

    def add_service_account(self, client_email: str, public_key_pem: str) -> None:
        """Accept JWTs signed by this key for ``client_email`` at the token endpoint."""
        from cryptography.hazmat.primitives import serialization

        key = serialization.load_pem_public_key(public_key_pem.encode())
        with self._lock:
            self._accounts[client_email] = key

    def create_service_account(self, client_email: str = DEFAULT_CLIENT_EMAIL) -> dict[str, str]:
        """A new key, registered; returns the JSON key file (its ``token_uri`` is this fake)."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self.add_service_account(client_email, public.decode())
        return {
            "type": "service_account",
            "project_id": "fake-project",
            "private_key_id": secrets.token_hex(20),
            "private_key": private.decode(),
            "client_email": client_email,
            "client_id": "100000000000000000000",
            "token_uri": self.token_uri,
        }

    def expire_tokens(self) -> None:
        """Revoke every access token: the next API call with one answers 401."""
        with self._lock:
            self._tokens = {}

    def fail_next_operation(self, *, code: int = 3, message: str = "Invalid audio.") -> None:
        """The next long-running operation ends with this ``google.rpc.Status`` error."""
        with self._lock:
            self._operation_errors.append({"code": int(code), "message": message})

    def objects(self) -> list[dict[str, Any]]:
        """The Cloud Storage objects held now (uploads not yet deleted)."""
        with self._lock:
            return [
                {"bucket": b, "name": n, "size": len(data), "contentType": content_type}
                for (b, n), (data, content_type) in sorted(self._objects.items())
            ]

    def reset(self) -> None:
        with self._lock:
            self._reset_state()

    # --- dispatch

    def respond(self, request: Request) -> Response:
        if request.path == CONTROL_PREFIX or request.path.startswith(CONTROL_PREFIX + "/"):
            try:
                return self._control(request)
            except FakeError as exc:
                return exc.response
        vendor = vendor_of(request.path)
        entry: dict[str, Any] = {
            "seq": next(self._ids),
            "vendor": vendor,
            "method": request.method,
            "path": request.path,
            "query": {
                k: (["***"] if k == "key" else list(v)) for k, v in sorted(request.query.items())
            },
            "auth": _auth_kind(request),
            "content_type": request.header("content-type"),
            "bytes": request.length,
            "status": None,
        }
        with self._lock:
            self._requests.append(entry)
            fault = next(
                (f for f in self._faults if f.matches(request.method, request.path, vendor)), None
            )
            if fault is not None and fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
        response: Response | None = None
        if fault is not None:
            if fault.delay:
                self._stopping.wait(fault.delay)
            if fault.status is not None:
                response = fault_response(fault, vendor)
        if response is None:
            try:
                response = self._route(request, entry, vendor)
            except FakeError as exc:
                response = exc.response
        with self._lock:
            entry["status"] = response.status
        return response

    def _note(self, entry: dict[str, Any], **details: Any) -> None:
        with self._lock:
            entry.update(details)

    def _route(self, request: Request, entry: dict[str, Any], vendor: str) -> Response:
        method, path = request.method, request.path
        if vendor == "google":
            if method == "POST" and path == "/v1/speech:recognize":
                return self._google_recognize(request, entry, long_running=False)
            if method == "POST" and path == "/v1/speech:longrunningrecognize":
                return self._google_recognize(request, entry, long_running=True)
            found = re.fullmatch(r"/v1/operations/([^/]+)", path)
            if method == "GET" and found:
                return self._google_operation(request, unquote(found.group(1)))
            raise google_error(404, f"Method not found: {method} {path}")
        if vendor == "gcs":
            found = re.fullmatch(r"/upload/storage/v1/b/([^/]+)/o", path)
            if method == "POST" and found:
                return self._gcs_upload(request, entry, unquote(found.group(1)))
            found = re.fullmatch(r"/storage/v1/b/([^/]+)/o/(.+)", path)
            if method == "DELETE" and found:
                return self._gcs_delete(request, unquote(found.group(1)), unquote(found.group(2)))
            raise gcs_error(404, "Not Found", "notFound")
        if vendor == "oauth" and method == "POST":
            return self._token(request, entry)
        if vendor == "deepgram" and method == "POST":
            return self._deepgram_listen(request, entry)
        if vendor == "openai" and method == "POST" and path == "/v1/audio/transcriptions":
            return self._openai_transcribe(request, entry)
        if vendor == "openai":
            raise openai_error(404, f"Invalid URL ({method} {path})")
        raise FakeError(Response.json(404, {"error": f"no route {method} {path}"}))

    def _script_for(self, key: int | str) -> list[str] | None:
        with self._lock:
            words = self._script.get(key)
            return list(words) if words is not None else None

    # --- the control API over HTTP

    def _control(self, request: Request) -> Response:
        route = request.path[len(CONTROL_PREFIX) :].rstrip("/")
        body: Any = {}
        if request.body:
            try:
                body = json.loads(request.body)
            except ValueError as exc:
                raise FakeError(Response.json(400, {"error": "the body is not JSON"})) from exc
        if not isinstance(body, dict):
            raise FakeError(Response.json(400, {"error": "the body must be a JSON object"}))
        method = request.method
        if route == "/requests" and method == "GET":
            return Response.json(200, {"requests": self.requests(request.param("vendor"))})
        if route == "/requests" and method == "DELETE":
            self.clear_requests()
            return Response(204)
        if route == "/script" and method == "POST":
            channels = {int(k): v for k, v in body.items() if k.isdigit() and v is not None}
            self.set_script(
                agent=body.get("agent"),
                caller=body.get("caller"),
                mono=body.get("mono"),
                channels=channels,
            )
            return Response.json(200, {"ok": True})
        if route == "/script" and method == "DELETE":
            self.clear_script()
            return Response(204)
        if route == "/faults" and method == "GET":
            return Response.json(200, {"faults": self.faults()})
        if route == "/faults" and method == "POST":
            unknown = set(body) - FAULT_KEYS
            if unknown:
                raise FakeError(Response.json(400, {"error": f"unknown keys {sorted(unknown)}"}))
            return Response.json(201, {"id": self.add_fault(**body)})
        if route == "/faults" and method == "DELETE":
            self.clear_faults()
            return Response(204)
        if route == "/config" and method == "GET":
            with self._lock:
                return Response.json(200, self._config())
        if route == "/config" and method == "POST":
            return Response.json(
                200,
                self.configure(
                    operation_polls=body.get("operation_polls"),
                    token_lifetime=body.get("token_lifetime"),
                ),
            )
        if route == "/service_accounts" and method == "POST":
            if body.get("create"):
                return Response.json(
                    201,
                    self.create_service_account(body.get("client_email") or DEFAULT_CLIENT_EMAIL),
                )
            self.add_service_account(str(body["client_email"]), str(body["public_key_pem"]))
            return Response(204)
        if route == "/expire_tokens" and method == "POST":
            self.expire_tokens()
            return Response(204)
        if route == "/operation_error" and method == "POST":
            self.fail_next_operation(
                code=int(body.get("code", 3)), message=str(body.get("message", "Invalid audio."))
            )
            return Response(204)
        if route == "/objects" and method == "GET":
            return Response.json(200, {"objects": self.objects()})
        if route == "/reset" and method == "POST":
            self.reset()
            return Response(204)
        raise FakeError(Response.json(404, {"error": f"no control route {method} {route}"}))


def _auth_kind(request: Request) -> str:
    if request.param("key") is not None:
        return "api_key"
    if request.header("x-goog-api-key") is not None:
        return "api_key_header"
    scheme = (request.header("authorization") or "").partition(" ")[0].lower()
    return {"bearer": "bearer", "token": "token"}.get(scheme, scheme or "none")
