"""The local fake of RingCentral + RingCX speaks their published contracts.

The vendor clients are tested against this fake, and users test their configuration with
it, so each test pins a behaviour of the real services that a client must cope with. The
tests talk plain ``httpx`` on purpose: they must not depend on the clients they vouch for.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ringadmin.tools.vendor_fake import BANNER_TITLE, FakeRingCentral, banner, ringcx_api
from ringadmin.tools.vendor_fake.common import ApiError, Request
from tests.conftest import free_port
from tests.helpers import PROJECT_DIR, project_env

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
BASIC = ("fake-client-id", "fake-client-secret")
MEDIA = "/platform/api/media/product"
PROFILE_PATH = f"{MEDIA}/account/99990001/type/QUEUE/id/1234"  # GET and DELETE only
PROFILE = {
    "productType": "QUEUE",
    "productId": 1234,
    "subAccountId": "99990001",
    "mainAccountId": "99990000",
    "rcAccountId": "123456789",
    "streamingUrl": "wss://recorder.example.com:8443",
    "secret": "profile-secret-0123456789",
}
SUPERVISE = "/restapi/v1.0/account/~/telephony/sessions/{}/supervise"


@pytest.fixture
def fake() -> Iterator[FakeRingCentral]:
    with FakeRingCentral() as server:
        yield server


@pytest.fixture
def client(fake: FakeRingCentral) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, timeout=10) as http:
        yield http


def jwt_login(client: httpx.Client) -> dict[str, Any]:
    response = client.post(
        "/restapi/oauth/token", auth=BASIC, data={"grant_type": JWT_GRANT, "assertion": "fake-jwt"}
    )
    assert response.status_code == 200, response.text
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def rc(client: httpx.Client) -> dict[str, str]:
    """Headers carrying a fresh platform access token."""
    return bearer(jwt_login(client)["access_token"])


@pytest.fixture
def cx(client: httpx.Client, rc: dict[str, str]) -> dict[str, str]:
    """Headers carrying a fresh RingCX access token."""
    response = client.post(
        "/api/auth/login/rc/accesstoken",
        params={"includeRefresh": "true"},
        data={"rcAccessToken": rc["Authorization"].split()[1], "rcTokenType": "Bearer"},
    )
    assert response.status_code == 200, response.text
    return bearer(response.json()["accessToken"])


# --- a webhook receiver -------------------------------------------------------------------------


class Receiver:
    """A tiny webhook endpoint. ``mode``: echo, no-echo, slow (answers after 3.5 s), big."""

    def __init__(self, mode: str = "echo") -> None:
        self.mode = mode
        self.received: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                token = self.headers.get("Validation-Token")
                payload = b""
                if token is None:
                    receiver.received.append({"headers": dict(self.headers), "body": body})
                elif receiver.mode == "slow":
                    time.sleep(3.5)
                elif receiver.mode == "big":
                    payload = b"x" * 2000
                self.send_response(200)
                if token and receiver.mode != "no-echo":
                    self.send_header("Validation-Token", token)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/ringcentral"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    yield hook
    hook.close()


def subscribe(
    client: httpx.Client, rc: dict[str, str], address: str, **extra: Any
) -> httpx.Response:
    body = {
        "eventFilters": ["/restapi/v1.0/account/~/telephony/sessions"],
        "deliveryMode": {"transportType": "WebHook", "address": address},
        **extra,
    }
    if "verificationToken" in extra:
        body["deliveryMode"]["verificationToken"] = body.pop("verificationToken")
    return client.post("/restapi/v1.0/subscription", json=body, headers=rc)


# --- platform OAuth -----------------------------------------------------------------------------


def test_jwt_grant_issues_tokens_and_each_refresh_token_works_once(client: httpx.Client) -> None:
    tokens = jwt_login(client)
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 3600
    assert tokens["owner_id"] == "700000"
    assert {"refresh_token", "refresh_token_expires_in", "scope", "endpoint_id"} <= set(tokens)

    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    renewed = client.post("/restapi/oauth/token", auth=BASIC, data=refresh)
    assert renewed.status_code == 200
    assert renewed.json()["access_token"] != tokens["access_token"]

    again = client.post("/restapi/oauth/token", auth=BASIC, data=refresh)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    # The refresh token from the renewal works (once).
    chained = {"grant_type": "refresh_token", "refresh_token": renewed.json()["refresh_token"]}
    assert client.post("/restapi/oauth/token", auth=BASIC, data=chained).status_code == 200


def test_oauth_rejects_bad_client_bad_jwt_and_a_json_body(client: httpx.Client) -> None:
    grant = {"grant_type": JWT_GRANT, "assertion": "fake-jwt"}
    wrong_client = client.post("/restapi/oauth/token", auth=("fake-client-id", "nope"), data=grant)
    assert wrong_client.status_code == 401
    assert wrong_client.json()["error"] == "invalid_client"
    assert "error_description" in wrong_client.json()

    bad_jwt = client.post("/restapi/oauth/token", auth=BASIC, data={**grant, "assertion": "x"})
    assert bad_jwt.status_code == 400
    assert bad_jwt.json()["error"] == "invalid_grant"

    as_json = client.post("/restapi/oauth/token", auth=BASIC, json=grant)
    assert as_json.status_code == 400
    assert as_json.json()["error"] == "invalid_request"


def test_expired_unknown_or_missing_bearer_is_refused(
    fake: FakeRingCentral, client: httpx.Client, rc: dict[str, str]
) -> None:
    assert client.get("/restapi/v1.0/account/~", headers=rc).status_code == 200

    fake.advance_time(3601)  # past the access token's lifetime
    expired = client.get("/restapi/v1.0/account/~", headers=rc)
    assert expired.status_code == 401
    assert expired.json()["errorCode"] == "TokenInvalid"
    assert expired.json()["errors"][0]["errorCode"] == "TokenInvalid"

    unknown = client.get("/restapi/v1.0/account/~", headers=bearer("not-a-token"))
    assert unknown.status_code == 401
    assert unknown.json()["errorCode"] == "TokenInvalid"

    missing = client.get("/restapi/v1.0/account/~")
    assert missing.status_code == 401


def test_expire_tokens_control_call_invalidates_platform_and_ringcx_tokens(
    client: httpx.Client, rc: dict[str, str], cx: dict[str, str]
) -> None:
    assert client.get(PROFILE_PATH, headers=cx).status_code == 404  # authorised, just absent
    assert client.post("/_fake/expire-tokens").status_code == 200

    assert client.get("/restapi/v1.0/account/~", headers=rc).json()["errorCode"] == "TokenInvalid"
    refused = client.get(PROFILE_PATH, headers=cx)
    assert refused.status_code == 401
    assert refused.text == "Jwt is expired"


# --- RingCX auth --------------------------------------------------------------------------------


def test_ringcx_exchange_by_form_or_query_refresh_once_and_expiry(
    fake: FakeRingCentral, client: httpx.Client, rc: dict[str, str]
) -> None:
    rc_token = rc["Authorization"].split()[1]
    by_form = client.post(
        "/api/auth/login/rc/accesstoken?includeRefresh=true",
        data={"rcAccessToken": rc_token, "rcTokenType": "Bearer"},
    )
    assert by_form.status_code == 200
    session = by_form.json()
    assert session["tokenType"] == "Bearer"
    assert session["mainAccountId"] == "99990000"
    assert session["agentDetails"][0]["agentId"] == 1001
    assert session["agentDetails"][0]["accountId"] == "99990001"
    # The documented fields and no others, so nothing comes to depend on what RingCX lacks.
    assert set(session) == {
        "accessToken",
        "refreshToken",
        "tokenType",
        "mainAccountId",
        "agentDetails",
        "adminId",
        "adminUrl",
        "agentUrl",
        "ssoLogin",
    }

    by_query = client.post(
        "/api/auth/login/rc/accesstoken",
        params={"rcAccessToken": rc_token, "rcTokenType": "Bearer", "includeRefresh": "true"},
    )
    assert by_query.status_code == 200

    refreshed = client.post(
        "/api/auth/token/refresh", data={"refresh_token": session["refreshToken"]}
    )
    assert refreshed.status_code == 200
    assert refreshed.json()["accessToken"] != session["accessToken"]
    reused = client.post("/api/auth/token/refresh", data={"refresh_token": session["refreshToken"]})
    assert reused.status_code == 401
    assert reused.json()["errorCode"] == "access.denied.exception"

    new_token = bearer(refreshed.json()["accessToken"])
    assert client.get(PROFILE_PATH, headers=new_token).status_code == 404
    fake.advance_time(301)  # RingCX tokens live 300 s
    assert client.get(PROFILE_PATH, headers=new_token).status_code == 401


def test_ringcx_exchange_refuses_a_bad_platform_token_in_ringcx_error_shape(
    client: httpx.Client,
) -> None:
    refused = client.post(
        "/api/auth/login/rc/accesstoken",
        data={"rcAccessToken": "not-a-platform-token", "rcTokenType": "Bearer"},
    )
    assert refused.status_code == 401
    body = refused.json()
    assert body["errorCode"] == "access.denied.exception"
    assert {"generalMessage", "details", "requestUri", "timestamp"} <= set(body)
    assert body["requestUri"] == "/api/auth/login/rc/accesstoken"


def test_ringcx_exchange_is_limited_to_five_a_minute(
    fake: FakeRingCentral, client: httpx.Client, rc: dict[str, str]
) -> None:
    form = {"rcAccessToken": rc["Authorization"].split()[1], "rcTokenType": "Bearer"}
    for _ in range(5):
        assert client.post("/api/auth/login/rc/accesstoken", data=form).status_code == 200
    sixth = client.post("/api/auth/login/rc/accesstoken", data=form)
    assert sixth.status_code == 429
    assert 1 <= int(sixth.headers["Retry-After"]) <= 60
    assert sixth.json()["errorCode"] == "too.many.requests.exception"

    fake.advance_time(61)
    assert client.post("/api/auth/login/rc/accesstoken", data=form).status_code == 200


# --- RingCX media products ----------------------------------------------------------------------


def test_media_product_create_read_update_delete(
    fake: FakeRingCentral, client: httpx.Client, cx: dict
) -> None:
    created = client.post(MEDIA, json=PROFILE, headers=cx)
    assert created.status_code == 200, created.text
    assert created.json() == PROFILE  # echoed, secret included

    assert client.get(PROFILE_PATH, headers=cx).json() == PROFILE
    changed = {**PROFILE, "streamingUrl": "wss://other.example.com"}
    assert client.put(MEDIA, json=changed, headers=cx).json() == changed
    assert fake.media_products() == [changed]
    assert client.get("/_fake/media-products").json()["mediaProducts"] == [changed]

    deleted = client.delete(PROFILE_PATH, headers=cx)
    assert deleted.status_code == 200  # with a short text, not JSON, as RingCX answers
    assert deleted.headers["Content-Type"].startswith("text/plain")
    assert deleted.text
    for method in ("GET", "DELETE"):
        missing = client.request(method, PROFILE_PATH, headers=cx)
        assert missing.status_code == 404
        assert missing.json()["errorCode"] == "entity.not.found.exception"


def test_media_product_create_of_an_existing_and_update_of_a_missing_profile_are_refused(
    fake: FakeRingCentral, client: httpx.Client, cx: dict
) -> None:
    update = client.put(MEDIA, json=PROFILE, headers=cx)
    assert update.status_code == 404
    assert update.json()["errorCode"] == "entity.not.found.exception"
    assert client.post(MEDIA, json=PROFILE, headers=cx).status_code == 200
    duplicate = client.post(MEDIA, json={**PROFILE, "secret": "another"}, headers=cx)
    assert duplicate.status_code == 409
    assert duplicate.json()["errorCode"] == "entity.already.exists.exception"
    assert fake.media_products() == [PROFILE]  # the refused create changed nothing


def test_media_product_update_may_leave_out_the_optional_account_ids(
    fake: FakeRingCentral, client: httpx.Client, cx: dict
) -> None:
    assert client.post(MEDIA, json=PROFILE, headers=cx).status_code == 200
    lean = {k: v for k, v in PROFILE.items() if k not in ("mainAccountId", "rcAccountId")}
    updated = client.put(MEDIA, json={**lean, "secret": "rotated"}, headers=cx)
    assert updated.status_code == 200, updated.text
    assert updated.json() == {**PROFILE, "secret": "rotated"}
    create_lean = client.post(MEDIA, json={**lean, "productId": 77}, headers=cx)
    assert create_lean.status_code == 400  # a create needs them
    assert "mainAccountId" in create_lean.json()["generalMessage"]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", PROFILE_PATH, "GET, DELETE"),  # the long path is for reading and deleting
        ("PUT", PROFILE_PATH, "GET, DELETE"),
        ("PATCH", PROFILE_PATH, "GET, DELETE"),
        ("GET", MEDIA, "POST, PUT"),  # there is no list
        ("DELETE", MEDIA, "POST, PUT"),
        ("PATCH", MEDIA, "POST, PUT"),
    ],
)
def test_media_product_wrong_method_for_the_path_is_405(
    fake: FakeRingCentral, client: httpx.Client, cx: dict, method: str, path: str, allow: str
) -> None:
    refused = client.request(method, path, json=PROFILE, headers=cx)
    assert refused.status_code == 405
    assert refused.headers["Allow"] == allow
    assert {"errorCode", "generalMessage", "timestamp"} <= set(refused.json())
    assert fake.media_products() == []


@pytest.mark.parametrize(
    "path",
    [
        f"{MEDIA}/",
        f"{MEDIA}/account/99990001",
        f"{MEDIA}/account/99990001/type/QUEUE/id/1234/extra",
        f"{MEDIA}/list",
    ],
)
def test_media_product_unknown_paths_under_the_base_are_404(
    client: httpx.Client, cx: dict, path: str
) -> None:
    for method in ("GET", "POST"):
        refused = client.request(method, path, json=PROFILE, headers=cx)
        assert refused.status_code == 404
        assert refused.json()["errorCode"] == "entity.not.found.exception"
    assert client.get(path).status_code == 401  # the token is checked first


def test_media_product_needs_a_valid_ringcx_bearer(
    fake: FakeRingCentral, client: httpx.Client, rc: dict, cx: dict
) -> None:
    token = cx["Authorization"].split()[1]
    for headers in ({}, bearer("not-a-token"), {"Authorization": f"Basic {token}"}, rc):
        refused = client.post(MEDIA, json=PROFILE, headers=headers)
        assert refused.status_code == 401
        assert refused.json()["errorCode"] == "access.denied.exception"
    # RingCentral's own sample writes the scheme in lower case.
    lower = client.post(MEDIA, json=PROFILE, headers={"Authorization": f"bearer {token}"})
    assert lower.status_code == 200
    fake.advance_time(301)
    expired = client.get(PROFILE_PATH, headers=cx)
    assert expired.status_code == 401
    assert expired.text == "Jwt is expired"  # as RingCX documents it, not JSON


@pytest.mark.parametrize(
    "url",
    [
        "wss://recorder.example.com/ingest",
        "wss://recorder.example.com/",
        "wss://recorder.example.com?token=1",
        "wss://recorder.example.com:8443/x",
        "wss://recorder.example.com:123456",
        "wss://recorder..example.com",
        "wss://-recorder.example.com",
        "wss://recorder_1.example.com",
        "wss://recorder.example.com\n",
        "ws://recorder.example.com",
        "https://recorder.example.com",
        " wss://recorder.example.com",
    ],
)
def test_media_product_refuses_a_streaming_url_outside_ringcxs_pattern(
    client: httpx.Client, cx: dict, url: str
) -> None:
    refused = client.post(MEDIA, json={**PROFILE, "streamingUrl": url}, headers=cx)
    assert refused.status_code == 400
    assert refused.json()["errorCode"] == "validation.exception"
    assert "streamingUrl" in refused.json()["generalMessage"]
    assert client.get(PROFILE_PATH, headers=cx).status_code == 404


@pytest.mark.parametrize(
    "url", ["", "wss://recorder.example.com", "wss://10.0.0.5:10443", "wss://localhost:99999"]
)
def test_media_product_accepts_empty_or_bare_wss_host(
    client: httpx.Client, cx: dict, url: str
) -> None:
    accepted = client.post(MEDIA, json={**PROFILE, "streamingUrl": url}, headers=cx)
    assert accepted.status_code == 200
    assert accepted.json()["streamingUrl"] == url


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("productType", "queue"),  # enum names are case-sensitive
        ("productType", "IVR"),
        ("productType", 1),
        ("productId", "abc"),
        ("productId", 1234.5),
        ("productId", True),
        ("productId", 2**31),  # an int32
        ("productId", [1234]),
        ("subAccountId", {"id": "99990001"}),
        ("subAccountId", True),
        ("mainAccountId", ["99990000"]),
        ("rcAccountId", {}),
        ("streamingUrl", 42),
        ("secret", 42),
    ],
)
def test_media_product_refuses_fields_of_the_wrong_type(
    fake: FakeRingCentral, client: httpx.Client, cx: dict, field: str, value: Any
) -> None:
    refused = client.post(MEDIA, json={**PROFILE, field: value}, headers=cx)
    assert refused.status_code == 400, refused.text
    assert refused.json()["errorCode"] == "validation.exception"
    assert field in refused.json()["generalMessage"]
    assert refused.json()["details"][0]["field"] == field
    assert fake.media_products() == []


@pytest.mark.parametrize(
    "field", ["productType", "productId", "subAccountId", "mainAccountId", "rcAccountId"]
)
def test_media_product_create_names_a_missing_id(
    client: httpx.Client, cx: dict, field: str
) -> None:
    for body in ({k: v for k, v in PROFILE.items() if k != field}, {**PROFILE, field: None}):
        refused = client.post(MEDIA, json=body, headers=cx)
        assert refused.status_code == 400
        assert f"Missing required fields: {field}" in refused.json()["generalMessage"]


def test_media_product_binds_numbers_and_numeric_strings_as_the_server_does(
    fake: FakeRingCentral, client: httpx.Client, cx: dict
) -> None:
    loose = {**PROFILE, "productId": "1234", "subAccountId": 99990001, "mainAccountId": 99990000}
    accepted = client.post(MEDIA, json=loose, headers=cx)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == PROFILE


def test_media_product_ignores_unknown_fields(
    fake: FakeRingCentral, client: httpx.Client, cx: dict
) -> None:
    accepted = client.post(MEDIA, json={**PROFILE, "label": "front desk"}, headers=cx)
    assert accepted.status_code == 200
    assert accepted.json() == PROFILE  # not stored, not echoed
    assert fake.media_products() == [PROFILE]


def test_media_product_refuses_ids_that_name_another_account(
    fake: FakeRingCentral, client: httpx.Client, cx: dict
) -> None:
    foreign = client.post(MEDIA, json={**PROFILE, "subAccountId": "55550001"}, headers=cx)
    assert foreign.status_code == 403
    assert foreign.json()["errorCode"] == "access.denied.exception"
    other_main = client.post(MEDIA, json={**PROFILE, "mainAccountId": "55550000"}, headers=cx)
    assert other_main.status_code == 400
    assert "mainAccountId" in other_main.json()["generalMessage"]
    read_foreign = client.get(f"{MEDIA}/account/55550001/type/QUEUE/id/1234", headers=cx)
    assert read_foreign.status_code == 403
    assert fake.media_products() == []


@pytest.mark.parametrize(
    "path",
    [f"{MEDIA}/account/99990001/type/IVR/id/1", f"{MEDIA}/account/99990001/type/QUEUE/id/x"],
)
def test_media_product_refuses_a_bad_type_or_id_in_the_path(
    client: httpx.Client, cx: dict, path: str
) -> None:
    refused = client.get(path, headers=cx)
    assert refused.status_code == 400
    assert refused.json()["errorCode"] == "validation.exception"


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"productType=QUEUE&productId=1234", "application/x-www-form-urlencoded", 415),
        (json.dumps(PROFILE).encode(), "text/plain", 415),
        (json.dumps(PROFILE).encode(), None, 415),
        (b"", "application/json", 400),
        (b"{not json", "application/json", 400),
        (b"\xff\xfe", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'"QUEUE"', "application/json", 400),
    ],
)
def test_media_product_body_must_be_a_json_object(
    fake: FakeRingCentral,
    client: httpx.Client,
    cx: dict,
    content: bytes,
    content_type: str | None,
    status: int,
) -> None:
    headers = {**cx, **({"Content-Type": content_type} if content_type else {})}
    for method in ("POST", "PUT"):
        refused = client.request(method, MEDIA, content=content, headers=headers)
        assert refused.status_code == status, refused.text
        assert {"errorCode", "generalMessage", "timestamp"} <= set(refused.json())
    assert fake.media_products() == []


_json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=6,
)


def _schema_allows(body: dict[str, Any]) -> bool:
    """RingCX's CreateProductReq, written out independently of the fake's code."""

    def an_id(value: Any) -> bool:
        return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))

    def an_int32(value: Any) -> bool:
        if isinstance(value, str) and re.fullmatch("-?[0-9]+", value):
            value = int(value)
        return type(value) is int and -(2**31) <= value < 2**31

    if any(body.get(name) is None for name in PROFILE if name != "secret"):
        return False
    url = body["streamingUrl"]
    return (
        body["productType"] in ("QUEUE", "CAMPAIGN")
        and an_int32(body["productId"])
        and all(an_id(body[name]) for name in ("subAccountId", "mainAccountId", "rcAccountId"))
        and isinstance(url, str)
        and ringcx_api.STREAMING_URL.fullmatch(url) is not None
        and (body.get("secret") is None or isinstance(body["secret"], str))
    )


@settings(max_examples=200, deadline=None)
@given(
    changes=st.dictionaries(
        st.sampled_from([*PROFILE, "unknown"]),
        _json_values | st.sampled_from(["", "1234", "-7", "QUEUE", "wss://a.example.com:1"]),
    ),
    dropped=st.sets(st.sampled_from(list(PROFILE))),
)
def test_media_product_validation_over_arbitrary_bodies(changes: dict, dropped: set) -> None:
    """Any JSON object is accepted exactly when RingCX's schema allows it; a refusal is a 400
    that names only declared fields, never a crash; unknown fields are never kept."""
    body = {k: v for k, v in {**PROFILE, **changes}.items() if k not in dropped}
    request = Request(
        method="POST",
        path=MEDIA,
        query={},
        headers={"content-type": "application/json"},
        body=json.dumps(body).encode(),
    )
    body = json.loads(request.body)  # as the server reads it (NaN and the like included)

    def parse() -> dict[str, Any]:
        return ringcx_api._profile(request, ringcx_api._body(request), ringcx_api.CREATE_REQUIRED)

    if not _schema_allows(body):
        with pytest.raises(ApiError) as caught:
            parse()
        assert caught.value.response.status == 400
        named = {d["field"] for d in caught.value.response.body["details"]}
        assert named
        assert named <= set(PROFILE)
        return
    profile = parse()
    assert profile["productType"] == body["productType"]
    assert profile["productId"] == int(body["productId"])
    assert all(profile[k] == str(body[k]) for k in ("subAccountId", "mainAccountId"))
    assert profile["streamingUrl"] == body["streamingUrl"]
    assert "unknown" not in profile


def test_media_product_base_path_is_configurable() -> None:
    old = "/media-distributor/product"
    with (
        FakeRingCentral(media_product_base_path=[MEDIA, old]) as fake,
        httpx.Client(base_url=fake.url) as client,
    ):
        rc_token = jwt_login(client)["access_token"]
        session = client.post(
            "/api/auth/login/rc/accesstoken",
            data={"rcAccessToken": rc_token, "rcTokenType": "Bearer"},
        ).json()
        headers = bearer(session["accessToken"])
        assert "refreshToken" not in session  # only with includeRefresh=true
        assert client.post(old, json=PROFILE, headers=headers).status_code == 200
        assert client.get(PROFILE_PATH, headers=headers).json() == PROFILE  # one store
        old_item = f"{old}/account/99990001/type/QUEUE/id/1234"
        assert client.delete(old_item, headers=headers).status_code == 200
    with FakeRingCentral() as only_new, httpx.Client(base_url=only_new.url) as client:
        assert client.post(old, json=PROFILE).status_code == 404


# --- monitoring groups, devices, presence -------------------------------------------------------


def test_monitoring_groups_and_250_members_across_three_pages(
    fake: FakeRingCentral, client: httpx.Client, rc: dict
) -> None:
    groups = client.get("/restapi/v1.0/account/~/call-monitoring-groups", headers=rc).json()
    assert [g["id"] for g in groups["records"]] == ["5001", "5002", "5003"]
    assert groups["paging"]["totalElements"] == 3
    assert groups["records"][1]["name"] == "Sales Floor"

    url: str | None = f"{fake.url}/restapi/v1.0/account/~/call-monitoring-groups/5002/members"
    members, pages = [], []
    while url:
        page = client.get(url, headers=rc).json()
        pages.append(page["paging"])
        members += page["records"]
        url = page["navigation"].get("nextPage", {}).get("uri")
    assert [p["page"] for p in pages] == [1, 2, 3]
    assert [(p["pageStart"], p["pageEnd"]) for p in pages] == [(0, 99), (100, 199), (200, 249)]
    assert all(p["totalPages"] == 3 and p["totalElements"] == 250 for p in pages)
    assert len({m["id"] for m in members}) == 250
    assert members[0] == {
        "id": "700001",
        "uri": members[0]["uri"],
        "extensionNumber": "201",
        "permissions": ["Monitoring"],
    }
    assert sum(m["permissions"] == ["Monitored"] for m in members) == 248

    last = client.get(
        "/restapi/v1.0/account/~/call-monitoring-groups/5002/members",
        params={"page": 3},
        headers=rc,
    ).json()
    assert "nextPage" not in last["navigation"]
    assert "previousPage" in last["navigation"]
    assert len(last["records"]) == 50

    whole = client.get(
        "/restapi/v1.0/account/~/call-monitoring-groups/5002/members",
        params={"perPage": 1000},
        headers=rc,
    ).json()
    assert len(whole["records"]) == 250
    assert whole["paging"]["totalPages"] == 1
    bad = client.get(
        "/restapi/v1.0/account/~/call-monitoring-groups/5002/members",
        params={"perPage": 0},
        headers=rc,
    )
    assert bad.status_code == 400
    unknown = client.get("/restapi/v1.0/account/~/call-monitoring-groups/9/members", headers=rc)
    assert unknown.status_code == 404


def test_devices_of_an_extension(client: httpx.Client, rc: dict) -> None:
    records = client.get("/restapi/v1.0/account/~/extension/700001/device", headers=rc).json()[
        "records"
    ]
    assert [(d["id"], d["type"], d["status"]) for d in records] == [
        ("60011", "SoftPhone", "Online"),
        ("60012", "HardPhone", "Offline"),
    ]
    assert records[0]["extension"] == {
        "id": 700001,  # a number here, as RingCentral gives it
        "uri": records[0]["extension"]["uri"],
        "extensionNumber": "201",
    }
    own = client.get("/restapi/v1.0/account/~/extension/~/device", headers=rc).json()
    assert own["records"] == []  # the JWT user (700000) has no phone
    unknown = client.get("/restapi/v1.0/account/~/extension/1/device", headers=rc)
    assert unknown.status_code == 404
    assert unknown.json()["errorCode"] == "CMN-102"


def test_presence_lists_active_calls_only_with_detailed_telephony_state(
    client: httpx.Client, rc: dict
) -> None:
    detailed = client.get(
        "/restapi/v1.0/account/~/presence",
        params={"detailedTelephonyState": "true", "sipData": "true"},
        headers=rc,
    ).json()
    assert detailed["paging"]["totalElements"] == 256
    assert detailed["paging"]["totalPages"] == 3
    assert all(isinstance(r["extension"]["id"], int) for r in detailed["records"])
    by_ext = {str(r["extension"]["id"]): r for r in detailed["records"]}
    (call,) = by_ext["800001"]["activeCalls"]
    assert call["telephonySessionId"] == "s-fake-0001"
    assert call["partyId"] == "p-fake-0001-1"
    assert call["direction"] == "Inbound"
    assert call["telephonyStatus"] == "CallConnected"
    assert "sipData" in call
    assert by_ext["800001"]["extension"]["extensionNumber"] == "1001"
    assert by_ext["700001"]["activeCalls"] == []

    plain = client.get("/restapi/v1.0/account/~/presence", headers=rc).json()
    assert all("activeCalls" not in r for r in plain["records"])


# --- supervision --------------------------------------------------------------------------------


def test_supervise_session_and_each_party(client: httpx.Client, rc: dict) -> None:
    body = {"mode": "Listen", "supervisorDeviceId": "60011", "agentExtensionId": "800001"}
    session = client.post(SUPERVISE.format("s-fake-0001"), json=body, headers=rc)
    assert session.status_code == 201
    party = session.json()
    assert party["owner"] == {"accountId": "123456789", "extensionId": "700001"}
    assert party["status"] == {"code": "Answered", "reason": "Supervising"}
    assert party["muted"] is False
    assert party["standAlone"] is False
    assert {"id", "name", "direction", "from", "to"} <= set(party)

    by_number = {"mode": "Listen", "supervisorDeviceId": "60011", "agentExtensionNumber": "1001"}
    assert (
        client.post(SUPERVISE.format("s-fake-0001"), json=by_number, headers=rc).status_code == 201
    )

    for party_id in ("p-fake-0001-1", "p-fake-0001-2"):
        per_party = client.post(
            f"/restapi/v1.0/account/~/telephony/sessions/s-fake-0001/parties/{party_id}/supervise",
            json=body,
            headers=rc,
        )
        assert per_party.status_code == 201, per_party.text
    no_party = client.post(
        "/restapi/v1.0/account/~/telephony/sessions/s-fake-0001/parties/p-nope/supervise",
        json=body,
        headers=rc,
    )
    assert no_party.status_code == 404

    optional = {**body, "autoAnswer": True, "mediaSDP": "sendOnly"}
    assert (
        client.post(SUPERVISE.format("s-fake-0001"), json=optional, headers=rc).status_code == 201
    )
    # Only the session-level call names the agent by extension number.
    party_by_number = client.post(
        "/restapi/v1.0/account/~/telephony/sessions/s-fake-0001/parties/p-fake-0001-1/supervise",
        json=by_number,
        headers=rc,
    )
    assert party_by_number.status_code == 400
    assert party_by_number.json()["errors"][0]["parameterName"] == "agentExtensionId"


@pytest.mark.parametrize(
    ("change", "status", "code", "words"),
    [
        ({"deviceId": "60011"}, 400, "CMN-101", "obsolete"),
        ({"extensionNumber": "1001"}, 400, "CMN-101", "obsolete"),
        ({"mode": "Whisper"}, 400, "CMN-101", "mode"),
        ({"autoAnswer": "yes"}, 400, "CMN-101", "autoAnswer"),
        ({"mediaSDP": "sendAll"}, 400, "CMN-101", "mediaSDP"),
        ({"supervisorDeviceId": None}, 400, "CMN-101", "supervisorDeviceId"),
        ({"supervisorDeviceId": "60012"}, 400, "TAS-112", "offline"),
        ({"supervisorDeviceId": "60031"}, 400, "TAS-111", "OtherPhone"),
        ({"supervisorDeviceId": "99999"}, 404, "CMN-102", "supervisorDeviceId"),
        ({"agentExtensionId": "800002"}, 400, "TAS-113", "not a party"),
        ({"supervisorDeviceId": "60021"}, 403, "CMN-408", "Monitoring"),
    ],
)
def test_supervise_validation(
    client: httpx.Client, rc: dict, change: dict, status: int, code: str, words: str
) -> None:
    body = {"mode": "Listen", "supervisorDeviceId": "60011", "agentExtensionId": "800001"}
    body = {k: v for k, v in {**body, **change}.items() if v is not None}
    refused = client.post(SUPERVISE.format("s-fake-0001"), json=body, headers=rc)
    assert refused.status_code == status, refused.text
    assert refused.json()["errorCode"] == code
    assert words in refused.json()["message"]


def test_supervise_unknown_session_and_second_supervisor(client: httpx.Client, rc: dict) -> None:
    body = {"mode": "Listen", "supervisorDeviceId": "60011", "agentExtensionId": "800005"}
    assert client.post(SUPERVISE.format("s-nope"), json=body, headers=rc).status_code == 404
    assert client.post(SUPERVISE.format("s-fake-0003"), json=body, headers=rc).status_code == 201
    # Sue (device 60021) also monitors the Sales Floor, but the call already has a supervisor.
    second = client.post(
        SUPERVISE.format("s-fake-0003"), json={**body, "supervisorDeviceId": "60021"}, headers=rc
    )
    assert second.status_code == 409


# --- webhooks -----------------------------------------------------------------------------------


def test_subscription_created_after_the_validation_handshake_then_renewed_and_deleted(
    fake: FakeRingCentral, client: httpx.Client, rc: dict, receiver: Receiver
) -> None:
    created = subscribe(client, rc, receiver.url, verificationToken="verify-me", expiresIn=3600)
    assert created.status_code == 200, created.text
    sub = created.json()
    assert sub["status"] == "Active"
    assert sub["eventFilters"] == ["/restapi/v1.0/account/123456789/telephony/sessions"]
    assert sub["deliveryMode"] == {
        "transportType": "WebHook",
        "address": receiver.url,
        "encryption": False,
    }
    assert sub["expiresIn"] == 3600
    assert {"id", "uri", "creationTime", "expirationTime"} <= set(sub)
    assert receiver.received == []  # the handshake is not a delivery

    path = f"/restapi/v1.0/subscription/{sub['id']}"
    assert client.get(path, headers=rc).json()["id"] == sub["id"]
    fake.advance_time(600)
    renewed = client.post(f"{path}/renew", headers=rc).json()
    assert renewed["expirationTime"] > sub["expirationTime"]
    assert client.delete(path, headers=rc).status_code == 204
    assert client.get(path, headers=rc).status_code == 404


@pytest.mark.parametrize("expires_in", [0, -1, True])
def test_subscription_refuses_an_invalid_expires_in(
    fake: FakeRingCentral, client: httpx.Client, rc: dict, receiver: Receiver, expires_in: Any
) -> None:
    refused = subscribe(client, rc, receiver.url, expiresIn=expires_in)
    assert refused.status_code == 400
    assert refused.json()["errorCode"] == "CMN-101"
    assert refused.json()["errors"][0]["parameterName"] == "expiresIn"
    assert fake.subscriptions() == []


def test_subscription_lifetime_is_the_top_level_expires_in_or_seven_days(
    client: httpx.Client, rc: dict, receiver: Receiver
) -> None:
    body = {
        "eventFilters": ["/restapi/v1.0/account/~/telephony/sessions"],
        "deliveryMode": {"transportType": "WebHook", "address": receiver.url, "expiresIn": 600},
    }
    misplaced = client.post("/restapi/v1.0/subscription", json=body, headers=rc)
    assert misplaced.status_code == 200
    assert misplaced.json()["expiresIn"] == 7 * 24 * 3600  # deliveryMode.expiresIn means nothing
    longest = subscribe(client, rc, receiver.url, expiresIn=10**9).json()
    assert longest["expiresIn"] == 315_360_000  # a WebHook lives at most 10 years


@pytest.mark.parametrize(
    ("mode", "code"), [("no-echo", "SUB-520"), ("big", "SUB-525"), ("slow", "SUB-521")]
)
def test_subscription_refused_when_the_receiver_fails_the_handshake(
    fake: FakeRingCentral, client: httpx.Client, rc: dict, mode: str, code: str
) -> None:
    hook = Receiver(mode)
    try:
        refused = subscribe(client, rc, hook.url)
    finally:
        hook.close()
    assert refused.status_code == 400
    assert refused.json()["errorCode"] == code
    assert fake.subscriptions() == []


def test_subscription_refused_when_nothing_listens(client: httpx.Client, rc: dict) -> None:
    refused = subscribe(client, rc, f"http://127.0.0.1:{free_port()}/hook")
    assert refused.status_code == 400
    assert refused.json()["errorCode"] == "SUB-521"


def test_notifications_carry_the_verification_token_and_can_repeat(
    fake: FakeRingCentral, client: httpx.Client, rc: dict, receiver: Receiver
) -> None:
    assert subscribe(client, rc, receiver.url, verificationToken="verify-me").status_code == 200
    result = client.post(
        "/_fake/notify", json={"telephonySessionId": "s-fake-0001", "status": "Hold", "repeat": 2}
    )
    assert result.status_code == 200
    assert [d["status"] for d in result.json()["deliveries"]] == [200, 200]

    first, second = (json.loads(r["body"]) for r in receiver.received)
    assert first == second  # a repeat is the same event, same uuid
    assert all(r["headers"]["Verification-Token"] == "verify-me" for r in receiver.received)
    assert first["event"] == "/restapi/v1.0/account/123456789/telephony/sessions"
    assert first["ownerId"] == "700000"
    assert {"uuid", "timestamp", "subscriptionId"} <= set(first)
    body = first["body"]
    assert body["telephonySessionId"] == "s-fake-0001"
    assert body["sessionId"] == "500000000001"
    assert body["origin"] == {"type": "Call"}
    assert {"sequence", "serverId", "eventTime"} <= set(body)
    agent, customer = body["parties"]
    assert agent["extensionId"] == "800001"
    assert agent["status"] == {"code": "Hold"}
    assert {
        "accountId",
        "id",
        "direction",
        "to",
        "from",
        "missedCall",
        "standAlone",
        "muted",
    } <= set(agent)
    assert "extensionId" not in customer


def test_extension_subscription_gets_only_its_parties_and_a_hangup_ends_the_call(
    fake: FakeRingCentral, client: httpx.Client, rc: dict, receiver: Receiver
) -> None:
    ext_filter = "/restapi/v1.0/account/~/extension/800002/telephony/sessions"
    assert subscribe(client, rc, receiver.url, eventFilters=[ext_filter]).status_code == 200

    fake.notify("s-fake-0001")  # another agent's call: nothing for this subscription
    assert receiver.received == []
    fake.notify("s-fake-0002", status="Disconnected", reason="CallerInputRedirect")
    (delivery,) = receiver.received
    event = json.loads(delivery["body"])
    assert event["event"] == "/restapi/v1.0/account/123456789/extension/800002/telephony/sessions"
    assert [p["extensionId"] for p in event["body"]["parties"]] == ["800002"]
    assert event["body"]["parties"][0]["status"]["code"] == "Disconnected"
    assert "Verification-Token" not in delivery["headers"]  # none was registered

    body = {"mode": "Listen", "supervisorDeviceId": "60011", "agentExtensionId": "800002"}
    assert client.post(SUPERVISE.format("s-fake-0002"), json=body, headers=rc).status_code == 404


def test_started_call_shows_in_presence_and_is_announced(
    fake: FakeRingCentral, client: httpx.Client, rc: dict, receiver: Receiver
) -> None:
    assert subscribe(client, rc, receiver.url).status_code == 200
    call = client.post("/_fake/calls", json={"agentExtensionId": "800004"}).json()
    codes = [
        json.loads(r["body"])["body"]["parties"][0]["status"]["code"] for r in receiver.received
    ]
    assert codes == ["Proceeding", "Answered"]
    presence = client.get(
        "/restapi/v1.0/account/~/presence",
        params={"detailedTelephonyState": "true", "perPage": 1000},
        headers=rc,
    ).json()
    (record,) = [r for r in presence["records"] if r["extension"]["id"] == 800004]
    assert record["activeCalls"][0]["telephonySessionId"] == call["telephonySessionId"]

    assert client.delete(f"/_fake/calls/{call['telephonySessionId']}").status_code == 200
    assert call["telephonySessionId"] not in {c["telephonySessionId"] for c in fake.calls()}


def test_built_in_webhook_sink_passes_the_handshake_and_keeps_deliveries(
    fake: FakeRingCentral, client: httpx.Client, rc: dict
) -> None:
    sink = f"{fake.url}/_fake/webhook-sink"
    assert subscribe(client, rc, sink, verificationToken="sink-token").status_code == 200
    fake.notify("s-fake-0003", status="Answered")
    (received,) = client.get("/_fake/webhook-sink").json()["received"]
    assert received["headers"]["verification-token"] == "sink-token"
    assert received["body"]["body"]["telephonySessionId"] == "s-fake-0003"


# --- faults and rate limits ---------------------------------------------------------------------


def test_fault_503_for_a_number_of_times_then_success(client: httpx.Client, rc: dict) -> None:
    added = client.post(
        "/_fake/faults",
        json={"method": "GET", "path_regex": r"/account/~$", "status": 503, "times": 2},
    )
    assert added.status_code == 201
    statuses = [client.get("/restapi/v1.0/account/~", headers=rc).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]


def test_fault_429_with_and_without_retry_after(
    fake: FakeRingCentral, client: httpx.Client
) -> None:
    fake.add_fault(path_regex="oauth/token", status=429, retry_after=7, times=1)
    limited = client.post("/restapi/oauth/token", auth=BASIC, data={"grant_type": JWT_GRANT})
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "7"
    assert limited.json()["errorCode"] == "CMN-301"

    fake.add_fault(path_regex="oauth/token", status=429, omit_retry_after=True, times=1)
    bare = client.post("/restapi/oauth/token", auth=BASIC, data={"grant_type": JWT_GRANT})
    assert bare.status_code == 429
    assert "Retry-After" not in bare.headers


def test_fault_delay_times_out_a_client_malformed_json_and_dropped_connection(
    fake: FakeRingCentral, client: httpx.Client, rc: dict
) -> None:
    fault = fake.add_fault(path_regex="/account/~$", delay=0.6)
    with pytest.raises(httpx.ReadTimeout):
        client.get("/restapi/v1.0/account/~", headers=rc, timeout=0.2)
    fake.remove_fault(fault)

    fake.add_fault(path_regex="/account/~$", malformed=True, times=1)
    broken = client.get("/restapi/v1.0/account/~", headers=rc)
    assert broken.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        broken.json()

    fake.add_fault(path_regex="/account/~$", disconnect=True, times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/restapi/v1.0/account/~", headers=rc)
    assert client.get("/restapi/v1.0/account/~", headers=rc).status_code == 200


def test_fault_default_bodies_follow_each_vendors_shape(
    fake: FakeRingCentral, client: httpx.Client
) -> None:
    fake.add_fault(path_regex="media/product", status=503)
    fake.add_fault(path_regex="/restapi/v1.0/", status=500, body="upstream exploded")
    ringcx = client.get(PROFILE_PATH)
    assert ringcx.status_code == 503
    assert {"errorCode", "generalMessage", "timestamp"} <= set(ringcx.json())
    raw = client.get("/restapi/v1.0/account/~")
    assert raw.status_code == 500
    assert raw.text == "upstream exploded"
    assert client.delete("/_fake/faults").status_code == 204
    assert client.get("/restapi/v1.0/account/~").status_code == 401


def test_rate_limit_headers_and_429_once_a_group_is_exhausted(
    fake: FakeRingCentral, client: httpx.Client, rc: dict
) -> None:
    assert client.post("/_fake/config", json={"rate_limit": 3}).status_code == 400  # a typo
    assert client.post("/_fake/config", json={"rate_limits": {"Light": 3}}).status_code == 200
    remaining = []
    for _ in range(3):
        ok = client.get("/restapi/v1.0/account/~", headers=rc)
        assert ok.headers["X-Rate-Limit-Group"] == "Light"
        assert ok.headers["X-Rate-Limit-Limit"] == "3"
        assert ok.headers["X-Rate-Limit-Window"] == "60"
        remaining.append(ok.headers["X-Rate-Limit-Remaining"])
    assert remaining == ["2", "1", "0"]

    limited = client.get("/restapi/v1.0/account/~", headers=rc)
    assert limited.status_code == 429
    assert limited.json()["errorCode"] == "CMN-301"
    assert limited.json()["errors"][0]["errorCode"] == "CMN-301"
    assert int(limited.headers["Retry-After"]) > 0
    # Other groups keep their own budget.
    groups = client.get("/restapi/v1.0/account/~/call-monitoring-groups", headers=rc)
    assert groups.status_code == 200
    assert groups.headers["X-Rate-Limit-Group"] == "Medium"

    fake.advance_time(61)
    assert client.get("/restapi/v1.0/account/~", headers=rc).status_code == 200


def test_auth_group_allows_five_token_requests_a_minute(client: httpx.Client) -> None:
    for _ in range(4):  # plus the one below = 5
        jwt_login(client)
    fifth = client.post(
        "/restapi/oauth/token", auth=BASIC, data={"grant_type": JWT_GRANT, "assertion": "fake-jwt"}
    )
    assert fifth.headers["X-Rate-Limit-Group"] == "Auth"
    assert fifth.headers["X-Rate-Limit-Remaining"] == "0"
    sixth = client.post(
        "/restapi/oauth/token", auth=BASIC, data={"grant_type": JWT_GRANT, "assertion": "fake-jwt"}
    )
    assert sixth.status_code == 429


# --- control API, logging, command --------------------------------------------------------------


def test_request_log_keeps_requests_but_not_their_secrets(
    fake: FakeRingCentral, client: httpx.Client
) -> None:
    tokens = jwt_login(client)
    client.post(
        "/api/auth/login/rc/accesstoken",
        params={"rcAccessToken": tokens["access_token"], "rcTokenType": "Bearer"},
    )
    (login,) = fake.requests(path_regex="oauth/token")
    assert login["method"] == "POST"
    assert login["headers"]["authorization"] == "Basic [redacted]"
    assert login["body"] == {"grant_type": JWT_GRANT, "assertion": "[redacted]"}
    (exchange,) = client.get("/_fake/requests", params={"path_regex": "accesstoken"}).json()[
        "requests"
    ]
    assert exchange["query"] == {"rcAccessToken": "[redacted]", "rcTokenType": "Bearer"}
    assert "fake-jwt" not in json.dumps(fake.requests())
    assert tokens["access_token"] not in json.dumps(fake.requests())


def test_reset_returns_to_the_seed(fake: FakeRingCentral, client: httpx.Client, rc: dict) -> None:
    fake.add_fault(path_regex="nothing-matches-this", status=500)
    fake.end_call("s-fake-0001", notify=False)
    assert client.post("/_fake/reset").status_code == 200
    state = client.get("/_fake/state").json()
    assert state["faults"] == []
    assert state["tokens"]["platformAccessValid"] == 0
    assert "s-fake-0001" in {c["telephonySessionId"] for c in state["calls"]}
    assert client.get("/restapi/v1.0/account/~", headers=rc).status_code == 401
    assert client.get("/nowhere").json()["errorCode"] == "AGW-404"


def test_banner_names_the_fake_and_the_variables_to_set(fake: FakeRingCentral) -> None:
    text = banner(fake)
    assert BANNER_TITLE in text
    assert f"RINGCENTRAL_SERVER_URL={fake.url}" in text
    assert f"RINGCX_SERVER_URL={fake.url}" in text
    assert "RINGCENTRAL_JWT=fake-jwt" in text


def test_management_command_serves_logs_without_secrets_and_stops_on_ctrl_c() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "fake_ringcentral", "--port", str(port), "--jwt", "jwt-7x"],
        cwd=PROJECT_DIR,
        env=project_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = []
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if "Ctrl-C" in line:
                break
        banner_text = "".join(lines)
        assert BANNER_TITLE in banner_text
        assert f"RINGCENTRAL_SERVER_URL=http://127.0.0.1:{port}" in banner_text
        grant = {"grant_type": JWT_GRANT, "assertion": "jwt-7x"}
        token = httpx.post(
            f"http://127.0.0.1:{port}/restapi/oauth/token", auth=BASIC, data=grant
        ).json()["access_token"]
        httpx.get(
            f"http://127.0.0.1:{port}/restapi/v1.0/account/~/presence?sipData=true",
            headers=bearer(token),
        )
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "POST /restapi/oauth/token 200" in rest
    assert "GET /restapi/v1.0/account/~/presence 200" in rest
    assert token not in rest
    assert "sipData" not in rest  # no query string in the log
    assert process.returncode == 0
