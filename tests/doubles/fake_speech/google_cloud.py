"""Google's ground under the speech API: API keys, the service-account token exchange (JWTs
signed RS256, verified with ``cryptography``), and the Cloud Storage uploads that long
recognitions read."""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import threading
import time
from typing import Any
from urllib.parse import parse_qs

from .common import (
    TOKEN_PATH,
    Request,
    Response,
    bearer_token,
    gcs_error,
    google_error,
    now_rfc3339,
    oauth_error,
)

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class GoogleCloud:
    """The part of ``FakeSpeech`` that issues and checks Google tokens and keeps Cloud Storage."""

    _lock: threading.Lock
    google_api_key: str
    token_lifetime: int
    buckets: set[str]
    _tokens: dict[str, float]
    _accounts: dict[str, Any]
    _objects: dict[tuple[str, str], tuple[bytes, str]]

    def _token_valid(self, token: str) -> bool:
        with self._lock:
            expires = self._tokens.get(token)
        return expires is not None and expires > time.time()

    def _google_auth(self, request: Request) -> str:
        key = request.param("key") or request.header("x-goog-api-key")
        if key is not None:
            if key != self.google_api_key:
                raise google_error(400, "API key not valid. Please pass a valid API key.")
            return "api_key"
        token = bearer_token(request)
        if token is not None:
            if not self._token_valid(token):
                raise google_error(
                    401,
                    "Request had invalid authentication credentials. Expected OAuth 2 access "
                    "token, login cookie or other valid authentication credential.",
                )
            return "bearer"
        raise google_error(
            403,
            "Method doesn't allow unregistered callers (callers without established identity)."
            " Please use API Key or other form of API consumer identity to call this API.",
        )

    def _token(self, request: Request, entry: dict[str, Any]) -> Response:
        form = parse_qs(request.body.decode("utf-8", "replace"))
        grant_type = (form.get("grant_type") or [""])[0]
        if grant_type != JWT_BEARER:
            raise oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")
        assertion = (form.get("assertion") or [""])[0]
        claims = self._verify_assertion(assertion, request)
        self._note(entry, oauth={"iss": claims.get("iss"), "scope": claims.get("scope")})
        token = f"ya29.fake-{secrets.token_hex(16)}"
        with self._lock:
            lifetime = self.token_lifetime
            self._tokens[token] = time.time() + lifetime
        return Response.json(
            200, {"access_token": token, "expires_in": lifetime, "token_type": "Bearer"}
        )

    def _verify_assertion(self, assertion: str, request: Request) -> dict[str, Any]:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        parts = assertion.split(".")
        try:
            if len(parts) != 3:
                raise ValueError("three parts expected")
            header, claims = (json.loads(_b64url_decode(p)) for p in parts[:2])
            signature = _b64url_decode(parts[2])
        except (ValueError, binascii.Error) as exc:
            raise oauth_error(400, "invalid_grant", "Invalid JWT: malformed assertion") from exc
        if header.get("alg") != "RS256":
            raise oauth_error(400, "invalid_grant", "Invalid JWT: the algorithm must be RS256.")
        with self._lock:
            key = self._accounts.get(claims.get("iss"))
        if key is None:
            raise oauth_error(400, "invalid_grant", "Invalid grant: account not found")
        try:
            key.verify(
                signature,
                f"{parts[0]}.{parts[1]}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature as exc:
            raise oauth_error(400, "invalid_grant", "Invalid JWT Signature.") from exc
        host = request.header("host") or ""
        audiences = {f"http://{host}{TOKEN_PATH}", self.token_uri, GOOGLE_TOKEN_URI}
        if claims.get("aud") not in audiences:
            raise oauth_error(
                400,
                "invalid_grant",
                f"Invalid JWT: Failed audience check. The expected value is {self.token_uri}",
            )
        now = time.time()
        issued, expires = claims.get("iat"), claims.get("exp")
        if (
            not isinstance(issued, int | float)
            or not isinstance(expires, int | float)
            or issued > now + 60
            or expires <= now
            or expires - issued > 3600
        ):
            raise oauth_error(
                400,
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
                "timeframe. Check your iat and exp values in the JWT claim.",
            )
        if CLOUD_PLATFORM_SCOPE not in str(claims.get("scope") or "").split():
            raise oauth_error(
                400, "invalid_scope", "Invalid OAuth scope or ID token audience provided."
            )
        return claims

    def _gcs_auth(self, request: Request) -> None:
        token = bearer_token(request)
        if token is None:
            raise gcs_error(
                401,
                "Anonymous caller does not have storage.objects.create access to the Google "
                "Cloud Storage object.",
                "required",
            )
        if not self._token_valid(token):
            raise gcs_error(401, "Invalid Credentials", "authError")

    def _gcs_upload(self, request: Request, entry: dict[str, Any], bucket: str) -> Response:
        self._gcs_auth(request)
        if request.param("uploadType") != "media":
            raise gcs_error(400, "The fake supports uploadType=media only.", "invalidParameter")
        name = request.param("name")
        if not name:
            raise gcs_error(400, "Required parameter: name", "required")
        if bucket not in self.buckets:
            raise gcs_error(404, "The specified bucket does not exist.", "notFound")
        content_type = request.header("content-type") or "application/octet-stream"
        with self._lock:
            self._objects[(bucket, name)] = (request.body, content_type)
        self._note(entry, gcs={"bucket": bucket, "name": name, "size": len(request.body)})
        return Response.json(
            200,
            {
                "kind": "storage#object",
                "id": f"{bucket}/{name}/1",
                "name": name,
                "bucket": bucket,
                "size": str(len(request.body)),
                "contentType": content_type,
                "timeCreated": now_rfc3339(),
            },
        )

    def _gcs_delete(self, request: Request, bucket: str, name: str) -> Response:
        self._gcs_auth(request)
        with self._lock:
            if self._objects.pop((bucket, name), None) is None:
                raise gcs_error(404, f"No such object: {bucket}/{name}", "notFound")
        return Response(204)

    def _gcs_read(self, uri: Any) -> bytes:
        found = re.fullmatch(r"gs://([^/]+)/(.+)", str(uri))
        if not found:
            raise google_error(
                400, "Invalid recognition 'audio': the uri must be gs://bucket/object."
            )
        with self._lock:
            stored = self._objects.get((found.group(1), found.group(2)))
        if stored is None:
            raise google_error(404, "Requested entity was not found.")
        return stored[0]


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
