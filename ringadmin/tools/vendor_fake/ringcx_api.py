"""RingCX routes: the platform-token exchange, token refresh and the media product
(streaming profile) API, as RingCX publishes them.

The media product API has two addresses under its base path (``/platform/api/media/product``
by default, ``/media-distributor/product`` on older installations):

- ``POST {base}`` creates and ``PUT {base}`` replaces a profile; the ids travel in the JSON
  body (RingCentral's own sample request is exactly that);
- ``GET`` and ``DELETE {base}/account/{subAccountId}/type/{productType}/id/{productId}`` read
  and remove one profile.

There is no list. Any other method on either address is refused with 405 and ``Allow`` (what
RingCX's Spring MVC answers for a known path), anything else under the base with 404. Bodies
are checked as the published OpenAPI description declares them (required fields, types,
``productId`` an int32, the ``streamingUrl`` pattern) and as the server would bind them:
unknown fields are ignored, numeric strings are read as numbers. RingCX never tries to reach
the streaming URL, and neither does this fake.
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
# The pattern of ``streamingUrl`` in RingCX's OpenAPI description, verbatim: an empty string,
# or wss:// then an IPv4 address or a host name, then an optional port; no path, no query.
STREAMING_URL = re.compile(
    r"^$|^(wss:\/\/)([0-9]{1,3}(?:\.[0-9]{1,3}){3}|(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]*"
    r"[a-zA-Z0-9])\.)*([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9\-]*[A-Za-z0-9]))(:([0-9]{1,5}))?$"
)
STREAMING_URL_RULE = "^$|^wss://host(:port)?$"
INT32_MAX = 2**31 - 1
ACCOUNT_FIELDS = ("subAccountId", "mainAccountId", "rcAccountId")
# Required by RingCX's UpdateProductReq; CreateProductReq also requires the other two ids.
UPDATE_REQUIRED = ("productType", "productId", "subAccountId", "streamingUrl")
CREATE_REQUIRED = (*UPDATE_REQUIRED, "mainAccountId", "rcAccountId")
COLLECTION_METHODS = ("POST", "PUT")
ITEM_METHODS = ("GET", "DELETE")
DELETED_TEXT = "Product deleted"  # RingCX answers DELETE with a string; its text is undocumented
EXPIRED_TEXT = "Jwt is expired"  # RingCX's documented answer to an expired access token
_ITEM_PATH = re.compile(
    r"^/account/(?P<sub_account>[^/]+)/type/(?P<product_type>[^/]+)/id/(?P<product_id>[^/]+)$"
)


def _session(state: FakeState, tokens: dict[str, str]) -> dict[str, Any]:
    """The exchange and refresh answer: the fields RingCX documents, and no others."""
    with state.lock:
        sub_account = (state.config.ringcx_sub_account_ids or ["0"])[0]
    return {
        **tokens,
        "tokenType": "Bearer",
        "mainAccountId": seed.RINGCX_MAIN_ACCOUNT_ID,
        "agentDetails": [
            {
                "agentId": 1001,
                "firstName": "Fake",
                "lastName": "Admin",
                "email": "admin@fake-ringcentral.invalid",
                "username": "admin@fake-ringcentral.invalid",
                "agentType": "AGENT",
                "rcUserId": int(seed.OWNER_EXTENSION_ID),
                "accountId": sub_account,
                "accountName": "Fake sub-account",
                "agentGroupId": seed.RINGCX_AGENT_GROUP_ID,
                "allowLoginControl": True,
                "allowLoginUpdates": True,
            }
        ],
        "adminId": seed.RINGCX_ADMIN_ID,
        "adminUrl": "/voice/admin/",
        "agentUrl": "/voice/agent/",
        "ssoLogin": True,
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


def _authorize(state: FakeState, request: Request) -> None:
    """The bearer check, which runs before routing (as a servlet filter does)."""
    scheme, _, token = (request.header("authorization") or "").partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and state.ringcx_token_valid(token):
        return
    if scheme.lower() == "bearer" and state.ringcx_token_expired(token):
        raise ApiError(401, EXPIRED_TEXT.encode(), {"Content-Type": "text/plain;charset=UTF-8"})
    raise cx_error(
        401, "access.denied.exception", "RingCX access token is missing or invalid", request
    )


def _not_allowed(request: Request, allowed: tuple[str, ...]) -> ApiError:
    # The status and Allow header are Spring MVC's; the error code is this fake's own wording.
    return cx_error(
        405,
        "method.not.allowed.exception",
        f"Request method '{request.method}' is not supported here: use {' or '.join(allowed)}",
        request,
        headers={"Allow": ", ".join(allowed)},
    )


def _invalid(request: Request, message: str, fields: dict[str, str]) -> ApiError:
    details = [{"field": name, "message": text} for name, text in fields.items()]
    return cx_error(400, "validation.exception", message, request, details=details)


def _forbidden(request: Request, sub_account: str) -> ApiError:
    return cx_error(
        403,
        "access.denied.exception",
        f"Sub-account {sub_account} does not belong to main account {seed.RINGCX_MAIN_ACCOUNT_ID}",
        request,
    )


def _as_id(value: Any) -> str | None:
    """An account id: a string, or a number (bound to a string field, it becomes one)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return value if isinstance(value, str) else None


def _as_int32(value: Any) -> int | None:
    """``productId``: an int32, or a string of one (numeric strings bind to numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and re.fullmatch(r"-?0*[0-9]{1,10}", value):
        value = int(value)
    if isinstance(value, int) and -INT32_MAX - 1 <= value <= INT32_MAX:
        return value
    return None


def _body(request: Request) -> dict[str, Any]:
    """The JSON object of a create or update: 415 for another media type, 400 for non-JSON."""
    content_type = request.content_type
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise cx_error(
            415,
            "unsupported.media.type.exception",
            f"Content type '{content_type or 'application/octet-stream'}' not supported: "
            "send application/json",
            request,
        )
    try:
        body = request.json()
    except (ValueError, UnicodeDecodeError):
        raise cx_error(
            400, "bad.request.exception", "Request body is missing or is not JSON", request
        ) from None
    if not isinstance(body, dict):
        raise cx_error(400, "bad.request.exception", "Request body must be a JSON object", request)
    return body


def _profile(request: Request, body: dict[str, Any], required: tuple[str, ...]) -> dict[str, Any]:
    """The profile a create or update body describes, or a 400 naming every offending field.

    Only the fields RingCX declares are kept; others are ignored, not stored or echoed.
    """
    missing = [name for name in required if body.get(name) is None]
    if missing:
        raise _invalid(
            request,
            f"Missing required fields: {', '.join(missing)}",
            dict.fromkeys(missing, "is required"),
        )
    problems: dict[str, str] = {}
    profile: dict[str, Any] = {}
    if body["productType"] not in PRODUCT_TYPES:
        problems["productType"] = "must be QUEUE or CAMPAIGN"
    product_id = _as_int32(body["productId"])
    if product_id is None:
        problems["productId"] = "must be an integer (int32)"
    profile.update(productType=body["productType"], productId=product_id)
    for name in ACCOUNT_FIELDS:
        if body.get(name) is None:
            continue  # optional in an update: the stored value stays
        value = _as_id(body[name])
        if value is None:
            problems[name] = "must be a string (an account id)"
        profile[name] = value
    url = body["streamingUrl"]
    if not isinstance(url, str) or not STREAMING_URL.fullmatch(url):
        problems["streamingUrl"] = (
            f"must match {STREAMING_URL_RULE}: wss://, a host and an optional port, "
            "no path, no query"
        )
    profile["streamingUrl"] = url
    secret = body.get("secret")
    if secret is not None:
        if not isinstance(secret, str):
            problems["secret"] = "must be a string"  # noqa: S105 - a message
        profile["secret"] = secret
    if problems:
        raise _invalid(request, f"Invalid fields: {', '.join(problems)}", problems)
    return profile


def _check_accounts(state: FakeState, request: Request, profile: dict[str, Any]) -> None:
    """The body's ids must name one account the token may manage."""
    with state.lock:
        allowed = profile["subAccountId"] in state.config.ringcx_sub_account_ids
    if not allowed:
        raise _forbidden(request, profile["subAccountId"])
    main = profile.get("mainAccountId")
    if main is not None and main != seed.RINGCX_MAIN_ACCOUNT_ID:
        raise _invalid(
            request,
            f"Invalid fields: mainAccountId {main} is not the main account of sub-account "
            f"{profile['subAccountId']}",
            {"mainAccountId": f"must be {seed.RINGCX_MAIN_ACCOUNT_ID}"},
        )


def media_collection(state: FakeState, request: Request) -> Response:
    """``POST`` creates, ``PUT`` replaces; both answer with the stored profile, secret included.

    A create of a profile that exists is refused (409) and so is an update of one that does
    not (404): RingCX documents create and update as two operations and says nothing of either
    doing the other's work, so a client must read first and choose. Refusing catches a client
    that creates blindly and would otherwise overwrite a profile someone set up elsewhere.
    """
    _authorize(state, request)
    if request.method not in COLLECTION_METHODS:
        raise _not_allowed(request, COLLECTION_METHODS)
    creating = request.method == "POST"
    profile = _profile(request, _body(request), CREATE_REQUIRED if creating else UPDATE_REQUIRED)
    _check_accounts(state, request, profile)
    key = (profile["subAccountId"], profile["productType"], profile["productId"])
    label = f"{key[1]} {key[2]} in sub-account {key[0]}"
    with state.lock:
        stored = state.media_products.get(key)
        if creating and stored is not None:
            raise cx_error(
                409,
                "entity.already.exists.exception",
                f"A media product profile already exists for {label}: use PUT to change it",
                request,
            )
        if not creating and stored is None:
            raise cx_error(
                404,
                "entity.not.found.exception",
                f"No media product profile for {label}: use POST to create it",
                request,
            )
        if stored is not None:
            for name in ("mainAccountId", "rcAccountId"):
                profile.setdefault(name, stored.get(name))
        state.media_products[key] = _ordered(profile)
        return Response(200, _ordered(profile))


def _ordered(profile: dict[str, Any]) -> dict[str, Any]:
    names = ("productType", "productId", *ACCOUNT_FIELDS, "streamingUrl", "secret")
    return {name: profile[name] for name in names if profile.get(name) is not None}


def media_item(
    state: FakeState, request: Request, sub_account: str, product_type: str, product_id: str
) -> Response:
    """``GET`` one profile, or ``DELETE`` it (200 with a short text, as RingCX answers)."""
    _authorize(state, request)
    if request.method not in ITEM_METHODS:
        raise _not_allowed(request, ITEM_METHODS)
    number = _as_int32(product_id)
    if number is None:
        raise _invalid(
            request, "Invalid productId in the path", {"productId": "must be an integer (int32)"}
        )
    if product_type not in PRODUCT_TYPES:
        raise _invalid(
            request,
            f"Invalid productType {product_type!r} in the path",
            {"productType": "must be QUEUE or CAMPAIGN"},
        )
    with state.lock:
        allowed = sub_account in state.config.ringcx_sub_account_ids
    if not allowed:
        raise _forbidden(request, sub_account)
    key = (sub_account, product_type, number)
    with state.lock:
        stored = state.media_products.get(key)
        if stored is None:
            raise cx_error(
                404,
                "entity.not.found.exception",
                f"No media product profile for {product_type} {number} in sub-account "
                f"{sub_account}",
                request,
            )
        if request.method == "DELETE":
            del state.media_products[key]
            return Response(200, DELETED_TEXT.encode(), {"Content-Type": "text/plain"})
        return Response(200, dict(stored))


def media_unknown(state: FakeState, request: Request) -> Response:
    _authorize(state, request)
    raise cx_error(
        404,
        "entity.not.found.exception",
        f"No handler for {request.method} {request.path}: create and update use the base "
        "path, read and delete .../account/{subAccountId}/type/{productType}/id/{productId}",
        request,
    )


Route = tuple[Callable[..., Response], dict[str, str]]


def match(state: FakeState, method: str, path: str) -> Route | None:
    """The RingCX handler for ``method path``; media product bases come from the config."""
    if method == "POST" and path == LOGIN_PATH:
        return login, {}
    if method == "POST" and path == REFRESH_PATH:
        return refresh, {}
    with state.lock:
        bases = list(state.config.media_product_base_paths)
    for base in bases:
        if path == base:
            return media_collection, {}
        if path.startswith(base + "/"):
            found = _ITEM_PATH.match(path[len(base) :])
            if found:
                return media_item, found.groupdict()
            return media_unknown, {}
    return None


def is_ringcx_path(state: FakeState, path: str) -> bool:
    """Whether an unknown path should get RingCX's error shape rather than RingCentral's."""
    with state.lock:
        bases = list(state.config.media_product_base_paths)
    return path.startswith("/api/") or any(path.startswith(base) for base in bases)
