"""RingCX routes (DESIGN.md §5): the platform-token exchange, token refresh and the media
product (streaming profile) API.

The media product API validates what the real one documents (``streamingUrl`` is
``wss://host[:port]`` or empty, path and body agree, required fields present) and nothing it
does not: it never tries to reach the streaming URL, as RingCX does not.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from . import seed
from .common import ApiError, Request, Response, cx_error
from .state import FakeState

LOGIN_PATH = "/api/auth/login/rc/accesstoken"
REFRESH_PATH = "/api/auth/token/refresh"
PRODUCT_TYPES = ("QUEUE", "CAMPAIGN")
STREAMING_URL = re.compile(r"^$|^wss://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?$")
STREAMING_URL_RULE = "^$|^wss://host(:port)?$"
REQUIRED_FIELDS = (
    "productType",
    "productId",
    "subAccountId",
    "mainAccountId",
    "rcAccountId",
    "streamingUrl",
)
_MEDIA_PATH = re.compile(
    r"^/account/(?P<sub_account>[^/]+)/type/(?P<product_type>[^/]+)/id/(?P<product_id>[^/]+)$"
)
MEDIA_METHODS = frozenset({"GET", "POST", "PUT", "DELETE"})


def _session(state: FakeState, tokens: dict[str, str]) -> dict[str, Any]:
    with state.lock:
        sub_account = (state.config.ringcx_sub_account_ids or ["0"])[0]
    owner = seed.OWNER_EXTENSION_ID
    return {
        **tokens,
        "tokenType": "Bearer",
        "agentDetails": [
            {
                "agentId": 1001,
                "firstName": "Fake",
                "lastName": "Admin",
                "email": "admin@fake-ringcentral.invalid",
                "username": "admin@fake-ringcentral.invalid",
                "agentType": "AGENT",
                "rcUserId": owner,
                "accountId": sub_account,
                "accountName": "Fake sub-account",
                "agentGroupId": seed.RINGCX_AGENT_GROUP_ID,
                "allowLoginControl": True,
                "allowLoginUpdates": True,
            }
        ],
        "adminId": seed.RINGCX_ADMIN_ID,
        "adminUrl": f"{state.base_url}/admin/?adminId={seed.RINGCX_ADMIN_ID}",
        "agentUrl": f"{state.base_url}/agent/?agentId=1001",
        "ssoLogin": True,
        "platformId": "fake",
        "mainAccountId": seed.RINGCX_MAIN_ACCOUNT_ID,
        "rcAccountId": seed.ACCOUNT_ID,
    }


def login(state: FakeState, request: Request) -> Response:
    """Exchange a RingCentral platform access token for a RingCX one (about 5 a minute)."""
    retry_after = state.ringcx_exchange_retry_after()
    if retry_after is not None:
        raise cx_error(
            429,
            "too.many.requests.exception",
            "Too many token exchange requests: at most "
            f"{state.config.ringcx_exchange_limit} a minute",
            request,
            headers={"Retry-After": str(retry_after)},
        )
    rc_token = request.param("rcAccessToken")
    token_type = request.param("rcTokenType")
    if not rc_token or not token_type:
        raise cx_error(
            400, "bad.request.exception", "rcAccessToken and rcTokenType are required", request
        )
    if token_type.lower() != "bearer":
        raise cx_error(400, "bad.request.exception", "rcTokenType must be Bearer", request)
    if not state.platform_token_valid(rc_token):
        raise cx_error(
            401,
            "access.denied.exception",
            "RingCentral access token is invalid or expired",
            request,
        )
    include_refresh = (request.param("includeRefresh") or "").lower() == "true"
    return Response(
        200, _session(state, state.issue_ringcx_tokens(include_refresh=include_refresh))
    )


def refresh(state: FakeState, request: Request) -> Response:
    refresh_token = request.param("refresh_token")
    if not refresh_token:
        raise cx_error(400, "bad.request.exception", "refresh_token is required", request)
    if not state.use_ringcx_refresh_token(refresh_token):
        raise cx_error(
            401,
            "access.denied.exception",
            "Refresh token is invalid, expired or already used",
            request,
        )
    return Response(200, _session(state, state.issue_ringcx_tokens(include_refresh=True)))


# --- media products -----------------------------------------------------------------------------


def _invalid(request: Request, message: str, fields: dict[str, str]) -> ApiError:
    details = [{"field": name, "message": text} for name, text in fields.items()]
    return cx_error(400, "validation.exception", message, request, details=details)


def _as_id(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)  # Jackson coerces numeric strings, so RingCX accepts them
    return None


def _profile(
    request: Request, sub_account: str, product_type: str, product_id: int
) -> dict[str, Any]:
    """The validated profile from the body, or a 400 naming every offending field."""
    try:
        body = request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise cx_error(400, "bad.request.exception", "Request body must be a JSON object", request)
    missing = [
        name
        for name in REQUIRED_FIELDS
        if body.get(name) is None or (name != "streamingUrl" and body.get(name) == "")
    ]
    if missing:
        raise _invalid(
            request,
            f"Missing required fields: {', '.join(missing)}",
            dict.fromkeys(missing, "is required"),
        )
    problems: dict[str, str] = {}
    if body["productType"] != product_type:
        problems["productType"] = f"must be {product_type!r}, as in the path"
    body_product_id = _as_int(body["productId"])
    if body_product_id is None:
        problems["productId"] = "must be an integer"
    elif body_product_id != product_id:
        problems["productId"] = f"must be {product_id}, as in the path"
    ids = {name: _as_id(body[name]) for name in ("subAccountId", "mainAccountId", "rcAccountId")}
    for name, value in ids.items():
        if value is None:
            problems[name] = "must be an account id"
    if ids["subAccountId"] is not None and ids["subAccountId"] != sub_account:
        problems["subAccountId"] = f"must be {sub_account!r}, as in the path"
    url = body["streamingUrl"]
    if not isinstance(url, str) or not STREAMING_URL.match(url):
        problems["streamingUrl"] = (
            f"must match {STREAMING_URL_RULE}: wss://, a host and an optional port, "
            "no path, no query"
        )
    secret = body.get("secret")
    if secret is not None and not isinstance(secret, str):
        problems["secret"] = "must be a string"  # noqa: S105 - a message
    if problems:
        raise _invalid(request, f"Invalid fields: {', '.join(problems)}", problems)
    profile = {
        "productType": product_type,
        "productId": product_id,
        "subAccountId": sub_account,
        "mainAccountId": ids["mainAccountId"],
        "rcAccountId": ids["rcAccountId"],
        "streamingUrl": url,
    }
    if secret is not None:
        profile["secret"] = secret
    return profile


def media_product(
    state: FakeState, request: Request, sub_account: str, product_type: str, product_id: str
) -> Response:
    header = request.header("authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not state.ringcx_token_valid(token.strip()):
        raise cx_error(
            401,
            "access.denied.exception",
            "RingCX access token is missing, invalid or expired",
            request,
        )
    with state.lock:
        allowed = sub_account in state.config.ringcx_sub_account_ids
    if not allowed:
        raise cx_error(
            403,
            "access.denied.exception",
            f"Sub-account {sub_account} does not belong to main account "
            f"{seed.RINGCX_MAIN_ACCOUNT_ID}",
            request,
        )
    if product_type not in PRODUCT_TYPES:
        raise _invalid(
            request,
            f"Invalid productType {product_type!r} in the path",
            {"productType": "must be QUEUE or CAMPAIGN"},
        )
    if not product_id.isdigit():
        raise _invalid(
            request, "Invalid productId in the path", {"productId": "must be an integer"}
        )
    key = (sub_account, product_type, int(product_id))
    label = f"{product_type} {product_id} in sub-account {sub_account}"
    if request.method in ("POST", "PUT"):
        profile = _profile(request, sub_account, product_type, int(product_id))
    with state.lock:
        stored = state.media_products.get(key)
        if request.method == "POST":
            if stored is not None:
                raise cx_error(
                    409,
                    "entity.already.exists.exception",
                    f"A media product profile already exists for {label}: use PUT to change it",
                    request,
                )
            state.media_products[key] = profile
            return Response(200, dict(profile))
        if stored is None:
            raise cx_error(
                404,
                "entity.not.found.exception",
                f"No media product profile for {label}",
                request,
            )
        if request.method == "PUT":
            state.media_products[key] = profile
            return Response(200, dict(profile))
        if request.method == "DELETE":
            del state.media_products[key]
            return Response(204)
        return Response(200, dict(stored))


Route = tuple[Callable[..., Response], dict[str, str]]


def match(state: FakeState, method: str, path: str) -> Route | None:
    """The RingCX handler for ``method path``; media product bases come from the config."""
    if method == "POST" and path == LOGIN_PATH:
        return login, {}
    if method == "POST" and path == REFRESH_PATH:
        return refresh, {}
    if method not in MEDIA_METHODS:
        return None
    with state.lock:
        bases = list(state.config.media_product_base_paths)
    for base in bases:
        if path.startswith(base + "/"):
            found = _MEDIA_PATH.match(path[len(base) :])
            if found:
                return media_product, found.groupdict()
    return None


def is_ringcx_path(state: FakeState, path: str) -> bool:
    """Whether an unknown path should get RingCX's error shape rather than RingCentral's."""
    with state.lock:
        bases = list(state.config.media_product_base_paths)
    return path.startswith("/api/") or any(path.startswith(base) for base in bases)
