"""The RingCentral and RingCX clients against the local fake of both vendors on loopback.

Every test starts its own fake (so configuration changes die with it), points the settings at
it, and uses a private local-memory cache, so nothing is shared between tests and no Redis key
is touched. Rate-limit pacing never really sleeps here: ``rate_limits.sleep`` records instead.
"""

from __future__ import annotations

import logging
import pickle
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from django.core.cache import cache

from ringadmin.tools.vendor_fake import (
    OLD_MEDIA_PRODUCT_BASE_PATH,
    RINGCX_MAIN_ACCOUNT_ID,
    FakeRingCentral,
)
from ringadmin.vendors import http, ringcentral, ringcx
from ringadmin.vendors.errors import (
    RETRYABLE,
    AuthFailed,
    NotConfigured,
    NotFound,
    RateLimited,
    Rejected,
    Unavailable,
    VendorError,
)
from tests.conftest import free_port

CLIENT_ID = "test-client-id"
CLIENT_SECRET = "cs-Test-Secret-7f3a9c"
JWT = "jwt-Test-Credential-5b1e2d"
SUB_ACCOUNT = "99990001"
RC_ACCOUNT = "123456789"
TOKEN_PATH = r"^/restapi/oauth/token$"
EXCHANGE_PATH = r"^/api/auth/login/rc/accesstoken$"
RINGCX_REFRESH_PATH = r"^/api/auth/token/refresh$"
MEDIA_PATH = r"^/platform/api/media/product(/|$)"
WEBHOOK_FILTER = "/restapi/v1.0/account/~/telephony/sessions"


@pytest.fixture
def fake():
    with FakeRingCentral(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, jwt=JWT) as server:
        yield server


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """Pauses the rate-limit pacer asked for (it never really sleeps in these tests)."""
    recorded: list[float] = []
    monkeypatch.setattr(http.rate_limits, "sleep", recorded.append)
    return recorded


@pytest.fixture(autouse=True)
def vendor_settings(settings, fake, sleeps):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "vendor-client-tests",
        }
    }
    settings.RINGCENTRAL_SERVER_URL = fake.url
    settings.RINGCX_SERVER_URL = fake.url
    settings.RINGCENTRAL_CLIENT_ID = CLIENT_ID
    settings.RINGCENTRAL_CLIENT_SECRET = CLIENT_SECRET
    settings.RINGCENTRAL_JWT = JWT
    settings.RINGCX_MEDIA_PRODUCT_BASE_PATH = "/platform/api/media/product"
    settings.VENDOR_HTTP_TIMEOUT_SECONDS = 5.0
    settings.VENDOR_RATE_LIMIT_MAX_PAUSE_SECONDS = 30.0
    cache.clear()
    http.reset_clients()
    yield settings
    http.reset_clients()
    cache.clear()


def grants(fake: FakeRingCentral) -> list[str]:
    """The grant type of every token request the fake received, in order."""
    return [r["body"]["grant_type"] for r in fake.requests(path_regex=TOKEN_PATH)]


def product(**changes) -> ringcx.MediaProduct:
    values = {
        "product_type": "QUEUE",
        "product_id": 1234,
        "sub_account_id": SUB_ACCOUNT,
        "main_account_id": RINGCX_MAIN_ACCOUNT_ID,
        "rc_account_id": RC_ACCOUNT,
        "streaming_url": "wss://recorder.example.com",
        "secret": "profile-Secret-3c8e1f0a",
    }
    values.update(changes)
    return ringcx.MediaProduct(**values)


def product_key(p: ringcx.MediaProduct) -> dict:
    return {
        "sub_account_id": p.sub_account_id,
        "product_type": p.product_type,
        "product_id": p.product_id,
    }


# --- RingCentral endpoints ---------------------------------------------------------------------


def test_account_info_authenticates_with_the_jwt_grant(fake) -> None:
    info = ringcentral.account_info()

    assert info == ringcentral.AccountInfo(
        id=RC_ACCOUNT, main_number="+16505550100", status="Confirmed", brand_name="RingCentral"
    )
    (token_request,) = fake.requests(path_regex=TOKEN_PATH)
    assert token_request["headers"]["authorization"].startswith("Basic ")
    assert token_request["body"]["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    (api_request,) = fake.requests(path_regex=r"^/restapi/v1\.0/account/~$")
    assert api_request["headers"]["authorization"].startswith("Bearer ")


def test_monitoring_groups_and_members_follow_every_page(fake) -> None:
    groups = ringcentral.call_monitoring_groups(per_page=1)
    members = ringcentral.call_monitoring_group_members(group_id="5002")

    assert [g.name for g in groups] == ["Support Tier 1", "Sales Floor", "Escalations"]
    assert len(fake.requests(path_regex=r"/call-monitoring-groups$")) == 3
    assert len(members) == 250  # three pages of 100
    assert len(fake.requests(path_regex=r"/call-monitoring-groups/5002/members$")) == 3
    supervisor = members[0]
    assert supervisor == ringcentral.GroupMember(
        extension_id="700001", extension_number="201", permissions=("Monitoring",)
    )
    assert supervisor.is_supervisor
    assert not supervisor.is_monitored
    assert sum(m.is_monitored for m in members) == 248


def test_extension_devices_say_which_can_receive_supervision() -> None:
    devices = ringcentral.extension_devices(extension_id="700001")

    assert [(d.id, d.type, d.status) for d in devices] == [
        ("60011", "SoftPhone", "Online"),
        ("60012", "HardPhone", "Offline"),
    ]
    assert devices[0].extension_number == "201"
    assert devices[0].can_receive_supervision
    assert not devices[1].can_receive_supervision  # offline
    paging = ringcentral.Device(
        id="1", type="Paging", name="", status="Online", extension_id="1", extension_number="1"
    )
    assert not paging.can_receive_supervision


def test_account_presence_reads_all_pages_and_active_calls(fake) -> None:
    presence = ringcentral.account_presence()

    assert len(presence) == 256
    request = fake.requests(path_regex=r"/account/~/presence$")[0]
    assert request["query"]["detailedTelephonyState"] == "true"
    busy = {p.extension_id: p for p in presence if p.active_calls}
    assert set(busy) == {"800001", "800002", "800003", "800005"}
    (call,) = busy["800001"].active_calls
    assert call == ringcentral.ActiveCall(
        telephony_session_id="s-fake-0001",
        party_id="p-fake-0001-1",
        direction="Inbound",
        telephony_status="CallConnected",
        from_number="+14155550101",
        to_number="+16505550100",
    )


def test_supervise_session_uses_the_current_field_names(fake) -> None:
    party = ringcentral.supervise_session(
        telephony_session_id="s-fake-0001",
        supervisor_device_id="60011",
        agent_extension_id="800001",
    )

    assert party.id.startswith("p-fake-0001-sv")
    assert party.status_code == "Answered"
    assert party.telephony_session_id == "s-fake-0001"
    assert party.extension_id == "700001"
    (request,) = fake.requests(path_regex=r"/sessions/s-fake-0001/supervise$")
    assert request["body"] == {
        "mode": "Listen",
        "supervisorDeviceId": "60011",
        "agentExtensionId": "800001",
    }


def test_supervise_session_by_agent_extension_number() -> None:
    party = ringcentral.supervise_session(
        telephony_session_id="s-fake-0002",
        supervisor_device_id="60011",
        agent_extension_number="1002",
    )
    assert party.status_code == "Answered"


def test_supervise_session_needs_the_agent() -> None:
    with pytest.raises(ValueError, match="agent_extension_id or agent_extension_number"):
        ringcentral.supervise_session(
            telephony_session_id="s-fake-0001", supervisor_device_id="60011"
        )


def test_supervise_party(fake) -> None:
    party = ringcentral.supervise_party(
        telephony_session_id="s-fake-0001",
        party_id="p-fake-0001-1",
        supervisor_device_id="60011",
        agent_extension_id="800001",
    )

    assert party.status_code == "Answered"
    (request,) = fake.requests(path_regex=r"/parties/p-fake-0001-1/supervise$")
    assert request["body"]["supervisorDeviceId"] == "60011"


def test_subscription_lifecycle(fake) -> None:
    created = ringcentral.subscription_create(
        event_filters=[WEBHOOK_FILTER],
        address=f"{fake.url}/_fake/webhook-sink",
        verification_token="verify-me",
        expires_in=3600,
    )

    assert created.status == "Active"
    assert created.event_filters == (f"/restapi/v1.0/account/{RC_ACCOUNT}/telephony/sessions",)
    assert created.address == f"{fake.url}/_fake/webhook-sink"
    assert created.expires_at.tzinfo is not None
    assert timedelta(minutes=59) < created.expires_at - datetime.now(tz=UTC) <= timedelta(hours=1)
    assert fake.subscriptions()[0]["verificationToken"] == "verify-me"
    assert ringcentral.subscription_get(subscription_id=created.id) == created
    fake.advance_time(600)
    renewed = ringcentral.subscription_renew(subscription_id=created.id)
    assert renewed.expires_at > created.expires_at
    ringcentral.subscription_delete(subscription_id=created.id)
    with pytest.raises(NotFound):
        ringcentral.subscription_get(subscription_id=created.id)


def test_functions_accept_an_explicit_client(fake) -> None:
    client = http.new_client(base_url=fake.url)
    client.auth = ringcentral.PlatformAuth(
        client=client, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, jwt=JWT
    )
    with client:
        assert ringcentral.account_info(client=client).id == RC_ACCOUNT


# --- RingCX media products ---------------------------------------------------------------------


def test_media_product_lifecycle(fake) -> None:
    local = product()

    created = ringcx.media_product_create(product=local)
    assert created == local
    assert fake.media_products() == [local.to_body()]
    assert ringcx.media_product_get(**product_key(local)) == local
    changed = product(streaming_url="wss://recorder.example.com:8443", secret=None)
    assert ringcx.media_product_update(product=changed) == changed
    assert "secret" not in fake.media_products()[0]
    ringcx.media_product_delete(**product_key(local))  # RingCX answers 200 with a text
    assert fake.media_products() == []
    with pytest.raises(NotFound) as caught:
        ringcx.media_product_get(**product_key(local))
    assert caught.value.vendor == "ringcx"
    assert caught.value.error_code == "entity.not.found.exception"
    base = "/platform/api/media/product"
    item = f"{base}/account/{SUB_ACCOUNT}/type/QUEUE/id/1234"
    calls = [(r["method"], r["path"]) for r in fake.requests(path_regex=MEDIA_PATH)]
    assert calls == [
        ("POST", base),  # create and update carry the ids in the body
        ("GET", item),
        ("PUT", base),
        ("DELETE", item),
        ("GET", item),
    ]
    (post,) = fake.requests(path_regex=MEDIA_PATH, method="POST")
    assert post["body"]["productId"] == 1234
    assert post["body"]["subAccountId"] == SUB_ACCOUNT
    assert post["headers"]["authorization"].startswith("Bearer ")


def test_older_media_product_base_path_works_by_setting(fake, settings) -> None:
    fake.configure(media_product_base_paths=[OLD_MEDIA_PRODUCT_BASE_PATH])
    settings.RINGCX_MEDIA_PRODUCT_BASE_PATH = OLD_MEDIA_PRODUCT_BASE_PATH

    ringcx.media_product_create(product=product())
    ringcx.media_product_delete(**product_key(product()))

    assert [(r["method"], r["path"]) for r in fake.requests(path_regex="^/media-distributor/")] == [
        ("POST", "/media-distributor/product"),
        ("DELETE", f"/media-distributor/product/account/{SUB_ACCOUNT}/type/QUEUE/id/1234"),
    ]
    assert fake.media_products() == []


def test_media_product_repr_and_str_hide_the_secret() -> None:
    local = product()
    assert local.secret not in repr(local)
    assert local.secret not in str(local)
    assert "secret='[set]'" in repr(local)
    assert ringcx.MediaProduct.from_body(local.to_body()) == local


def test_media_product_rejects_an_unknown_product_type() -> None:
    with pytest.raises(ValueError, match="QUEUE or CAMPAIGN"):
        product(product_type="IVR")


# --- Error classification ----------------------------------------------------------------------


def test_429_with_retry_after_is_rate_limited_for_that_long(fake) -> None:
    fake.add_fault(path_regex=r"/account/~$", status=429, retry_after=7, times=1)

    with pytest.raises(RateLimited) as caught:
        ringcentral.account_info()

    assert caught.value.retry_after == 7
    assert caught.value.error_code == "CMN-301"
    assert isinstance(caught.value.__cause__, httpx.HTTPStatusError)
    assert "Try again in 7 s" in str(caught.value)
    assert isinstance(caught.value, RETRYABLE)


def test_429_without_retry_after_waits_30_seconds(fake) -> None:
    fake.add_fault(path_regex=r"/account/~$", status=429, omit_retry_after=True, times=1)

    with pytest.raises(RateLimited) as caught:
        ringcentral.account_info()

    assert caught.value.retry_after == 30


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=45), usegmt=True)
    assert http.retry_after_seconds(later, now=now) == 45
    assert http.retry_after_seconds("soon", now=now) == 30


def test_503_is_unavailable(fake) -> None:
    fake.add_fault(path_regex=MEDIA_PATH, status=503, times=1)

    with pytest.raises(Unavailable) as caught:
        ringcx.media_product_get(**product_key(product()))

    assert caught.value.status == 503
    assert caught.value.vendor == "ringcx"
    assert isinstance(caught.value.__cause__, httpx.HTTPStatusError)
    assert "try again in a few minutes" in str(caught.value)


def test_503_with_retry_after_carries_the_wait(fake) -> None:
    fake.add_fault(path_regex=MEDIA_PATH, status=503, retry_after=12, times=1)

    with pytest.raises(Unavailable) as caught:
        ringcx.media_product_get(**product_key(product()))

    assert caught.value.retry_after == 12
    assert "try again in 12 s" in str(caught.value)
    assert pickle.loads(pickle.dumps(caught.value)).retry_after == 12  # noqa: S301 - ours


def test_a_timeout_is_unavailable(fake, settings) -> None:
    settings.VENDOR_HTTP_TIMEOUT_SECONDS = 0.2
    fake.add_fault(path_regex=r"/account/~$", delay=1.0, times=1)

    with pytest.raises(Unavailable) as caught:
        ringcentral.account_info()

    assert isinstance(caught.value.__cause__, httpx.TimeoutException)
    assert "VENDOR_HTTP_TIMEOUT_SECONDS" in str(caught.value)


def test_a_refused_connection_is_unavailable(settings) -> None:
    settings.RINGCENTRAL_SERVER_URL = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(Unavailable) as caught:
        ringcentral.account_info()

    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert "could not connect to 127.0.0.1" in str(caught.value)


def test_a_dropped_connection_is_unavailable(fake) -> None:
    fake.add_fault(path_regex=r"/account/~$", disconnect=True, times=1)

    with pytest.raises(Unavailable) as caught:
        ringcentral.account_info()

    assert isinstance(caught.value.__cause__, httpx.TransportError)
    assert "the connection to 127.0.0.1 failed" in str(caught.value)


def test_404_is_not_found() -> None:
    with pytest.raises(NotFound) as caught:
        ringcentral.extension_devices(extension_id="424242")

    assert caught.value.status == 404
    assert caught.value.error_code == "CMN-102"
    assert "[extensionId]" in caught.value.detail


def test_platform_400_is_rejected_with_code_message_and_errors(fake) -> None:
    with pytest.raises(Rejected) as caught:
        ringcentral.subscription_create(
            event_filters=["/restapi/v1.0/account/someone-else/telephony/sessions"],
            address=f"{fake.url}/_fake/webhook-sink",
            verification_token="verify-me",
            expires_in=3600,
        )

    error = caught.value
    assert (error.vendor, error.status, error.error_code) == ("ringcentral", 400, "CMN-101")
    assert "Parameter [eventFilters] value is invalid" in error.detail
    assert error.errors[0]["parameterName"] == "eventFilters"
    assert str(error).startswith("RingCentral rejected the request (HTTP 400 CMN-101): Parameter")


def test_ringcx_400_is_rejected_with_code_message_and_field_errors() -> None:
    with pytest.raises(Rejected) as caught:
        ringcx.media_product_create(product=product(streaming_url="wss://host/with/path"))

    error = caught.value
    assert (error.vendor, error.status, error.error_code) == ("ringcx", 400, "validation.exception")
    assert error.detail == "Invalid fields: streamingUrl"
    assert error.errors[0]["field"] == "streamingUrl"
    assert "RingCX rejected the request" in str(error)


def test_injected_ringcx_error_body_is_parsed(fake) -> None:
    body = '{"errorCode":"access.denied.exception","generalMessage":"Not yours","timestamp":1}'
    fake.add_fault(path_regex=MEDIA_PATH, status=400, body=body, times=1)

    with pytest.raises(Rejected) as caught:
        ringcx.media_product_get(**product_key(product()))

    assert (caught.value.error_code, caught.value.detail) == (
        "access.denied.exception",
        "Not yours",
    )


def test_bad_client_secret_is_auth_failed(settings) -> None:
    settings.RINGCENTRAL_CLIENT_SECRET = "not-the-secret"

    with pytest.raises(AuthFailed) as caught:
        ringcentral.account_info()

    assert caught.value.status == 401
    assert caught.value.error_code == "invalid_client"
    assert "RINGCENTRAL_CLIENT_SECRET" in str(caught.value)
    assert "not-the-secret" not in str(caught.value)
    assert not isinstance(caught.value, RETRYABLE)


def test_bad_jwt_is_auth_failed(settings) -> None:
    settings.RINGCENTRAL_JWT = "expired-jwt"

    with pytest.raises(AuthFailed) as caught:
        ringcx.media_product_get(**product_key(product()))

    assert caught.value.error_code == "invalid_grant"
    assert caught.value.vendor == "ringcentral"


def test_forbidden_is_auth_failed(fake) -> None:
    with pytest.raises(AuthFailed) as caught:
        ringcx.media_product_get(sub_account_id="11112222", product_type="QUEUE", product_id=1)

    assert caught.value.status == 403
    assert "does not belong" in caught.value.detail


def test_malformed_json_on_2xx_is_unavailable(fake) -> None:
    fake.add_fault(path_regex=r"/call-monitoring-groups$", malformed=True, times=1)

    with pytest.raises(Unavailable) as caught:
        ringcentral.call_monitoring_groups()

    assert "not valid JSON" in str(caught.value)
    assert caught.value.__cause__ is not None


def test_missing_credentials_are_not_configured(settings) -> None:
    settings.RINGCENTRAL_JWT = ""
    settings.RINGCENTRAL_CLIENT_SECRET = ""

    assert not ringcentral.vendors_configured()
    assert not ringcx.vendors_configured()
    with pytest.raises(NotConfigured) as caught:
        ringcx.media_product_get(**product_key(product()))
    assert caught.value.missing == ("RINGCENTRAL_CLIENT_SECRET", "RINGCENTRAL_JWT")
    assert "set RINGCENTRAL_CLIENT_SECRET, RINGCENTRAL_JWT in the environment" in str(caught.value)


def test_errors_survive_pickling() -> None:
    error = RateLimited("slow down", vendor="ringcentral", retry_after=12, error_code="CMN-301")
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert (type(copy), copy.retry_after, copy.error_code, str(copy)) == (
        RateLimited,
        12,
        "CMN-301",
        str(error),
    )
    assert issubclass(NotConfigured, VendorError)


# --- Platform tokens ---------------------------------------------------------------------------


def test_token_is_reused_across_calls(fake) -> None:
    ringcentral.account_info()
    ringcentral.call_monitoring_groups()
    http.reset_clients()  # a new client (another worker) finds the token in the cache
    ringcentral.extension_devices(extension_id="700001")

    assert grants(fake) == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]


def test_expired_token_mid_run_is_refreshed_once(fake) -> None:
    ringcentral.account_info()
    fake.expire_tokens()

    assert ringcentral.account_info().id == RC_ACCOUNT
    assert grants(fake) == ["urn:ietf:params:oauth:grant-type:jwt-bearer", "refresh_token"]
    ringcentral.account_info()
    assert len(grants(fake)) == 2


def test_token_is_refreshed_before_it_expires(fake) -> None:
    ringcentral.account_info()
    auth = ringcentral.platform_auth()
    entry = cache.get(auth.cache_key)
    cache.set(auth.cache_key, {**entry, "expires_at": time.time() + 30})  # inside the margin

    ringcentral.account_info()

    assert grants(fake)[-1] == "refresh_token"
    assert len(fake.requests(path_regex=r"/account/~$")) == 2  # no 401 round trip


def test_refused_refresh_token_falls_back_to_the_jwt_grant(fake) -> None:
    ringcentral.account_info()
    auth = ringcentral.platform_auth()
    entry = cache.get(auth.cache_key)
    cache.set(auth.cache_key, {**entry, "refresh_token": "spent-elsewhere", "expires_at": 0})

    ringcentral.account_info()

    jwt_grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert grants(fake) == [jwt_grant, "refresh_token", jwt_grant]


def test_concurrent_callers_with_an_expired_token_cause_one_token_request(fake) -> None:
    ringcentral.account_info()
    fake.clear_requests()
    fake.expire_tokens()
    callers = 4
    # Hold each first request at the fake so that all are in flight with the expired token.
    fake.add_fault(method="GET", path_regex=r"/account/~$", delay=0.3, times=callers)
    barrier = threading.Barrier(callers)
    results: list[object] = []

    def call() -> None:
        barrier.wait()
        try:
            results.append(ringcentral.account_info())
        except Exception as exc:  # surfaced by the assertion below
            results.append(exc)

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert [type(r) for r in results] == [ringcentral.AccountInfo] * callers
    assert grants(fake) == ["refresh_token"]
    # At least the first caller met the 401 and retried; the others did too if they overlapped.
    assert len(fake.requests(path_regex=r"/account/~$")) > callers


def test_token_renewed_by_another_process_is_used_not_renewed_again(fake) -> None:
    ringcentral.account_info()
    auth = ringcentral.platform_auth()
    entry = cache.get(auth.cache_key)
    lock_key = f"{auth.cache_key}:lock"
    assert cache.add(lock_key, "another-process", timeout=30)  # it is renewing right now
    cache.set(auth.cache_key, {**entry, "expires_at": 0})
    got: list[str] = []
    waiter = threading.Thread(target=lambda: got.append(auth.access_token()))
    waiter.start()
    renewed = {**entry, "access_token": "renewed-by-the-other-process"}
    cache.set(auth.cache_key, {**renewed, "expires_at": time.time() + 3600})
    cache.delete(lock_key)
    waiter.join(timeout=20)

    assert got == ["renewed-by-the-other-process"]
    assert len(grants(fake)) == 1


def test_failed_renewal_releases_the_lock(settings) -> None:
    settings.RINGCENTRAL_JWT = "wrong"
    auth = ringcentral.platform_auth()

    with pytest.raises(AuthFailed):
        auth.access_token()

    assert cache.get(f"{auth.cache_key}:lock") is None


# --- RingCX tokens -----------------------------------------------------------------------------


def test_ringcx_exchanges_once_then_refreshes(fake) -> None:
    local = product()
    ringcx.media_product_create(product=local)
    ringcx.media_product_get(**product_key(local))
    (exchange,) = fake.requests(path_regex=EXCHANGE_PATH)
    assert exchange["query"] == {"includeRefresh": "true"}
    assert exchange["body"]["rcTokenType"] == "Bearer"

    fake.expire_tokens()  # RingCX tokens live about 5 minutes
    ringcx.media_product_get(**product_key(local))
    ringcx.media_product_update(product=local)

    assert len(fake.requests(path_regex=EXCHANGE_PATH)) == 1
    assert len(fake.requests(path_regex=RINGCX_REFRESH_PATH)) == 1


def test_ringcx_token_is_refreshed_before_it_expires(fake) -> None:
    local = product()
    ringcx.media_product_create(product=local)
    auth = ringcx.ringcx_client().auth
    entry = cache.get(auth.cache_key)
    cache.set(auth.cache_key, {**entry, "expires_at": time.time() + 10})

    ringcx.media_product_get(**product_key(local))

    assert len(fake.requests(path_regex=RINGCX_REFRESH_PATH)) == 1
    assert len(fake.requests(path_regex=EXCHANGE_PATH)) == 1
    assert len(fake.requests(path_regex=MEDIA_PATH, method="GET")) == 1  # no 401 round trip


def test_ringcx_exchange_budget_is_respected(fake) -> None:
    auth = ringcx.ringcx_client().auth
    cache.set(auth.exchanges_key, [time.time() - 10] * ringcx.EXCHANGE_LIMIT, timeout=60)

    with pytest.raises(RateLimited) as caught:
        ringcx.media_product_get(**product_key(product()))

    assert 45 <= caught.value.retry_after <= 51
    assert "token exchanges" in str(caught.value)
    assert fake.requests(path_regex=EXCHANGE_PATH) == []
    assert fake.requests(path_regex=TOKEN_PATH) == []


def test_ringcx_exchange_retries_once_with_a_renewed_platform_token(fake) -> None:
    ringcentral.account_info()  # a platform token is cached
    fake.expire_tokens()  # ...and RingCX will refuse it

    ringcx.media_product_create(product=product())

    assert len(fake.requests(path_regex=EXCHANGE_PATH)) == 2
    assert grants(fake)[-1] == "refresh_token"
    assert ringcx.ringcx_client().auth.exchanges_in_window() == 2


# --- Rate limits -------------------------------------------------------------------------------


def test_rate_limit_headers_are_recorded() -> None:
    ringcentral.account_info()
    ringcentral.account_info()

    status = http.rate_limit_status()
    assert status["Light"]["limit"] == 50
    assert status["Light"]["remaining"] == 48
    assert status["Light"]["window_seconds"] == 60
    assert status["Light"]["vendor"] == "ringcentral"
    assert status["Auth"]["remaining"] == 4
    assert status["Light"]["observed_at"].tzinfo is not None


def test_pacing_engages_before_the_budget_runs_out(fake, settings, sleeps, caplog) -> None:
    fake.configure(rate_limits={"Heavy": 3})
    settings.VENDOR_RATE_LIMIT_MAX_PAUSE_SECONDS = 100

    ringcentral.account_presence(per_page=1000)
    ringcentral.account_presence(per_page=1000)
    assert sleeps == []
    ringcentral.account_presence(per_page=1000)

    assert sleeps == [pytest.approx(40)]  # 2 * window / limit: the window is 60 s
    assert http.rate_limit_status()["Heavy"]["remaining"] == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "ringcentral rate limit group Heavy: 0 of 3 requests left in its 60 s window" in warnings
    # Had the caller not really waited, the next call would meet the vendor's 429.
    with pytest.raises(RateLimited):
        ringcentral.account_presence(per_page=1000)
    assert len(sleeps) == 2


def test_pacing_is_off_when_max_pause_is_zero(fake, settings, sleeps) -> None:
    fake.configure(rate_limits={"Heavy": 2})
    settings.VENDOR_RATE_LIMIT_MAX_PAUSE_SECONDS = 0

    ringcentral.account_presence(per_page=1000)
    ringcentral.account_presence(per_page=1000)

    assert sleeps == []


def test_pause_waits_for_the_window_to_turn_over() -> None:
    now = [1000.0]
    registry = http.RateLimitRegistry(clock=lambda: now[0], sleep=lambda s: None)

    def observe(remaining: int) -> None:
        headers = httpx.Headers(
            {
                "X-Rate-Limit-Group": "Heavy",
                "X-Rate-Limit-Limit": "10",
                "X-Rate-Limit-Remaining": str(remaining),
                "X-Rate-Limit-Window": "60",
            }
        )
        registry.observe(vendor="ringcentral", route="GET presence", headers=headers)

    observe(9)  # the first request of a window
    now[0] = 1005
    observe(1)
    assert registry.pause_for(route="GET presence") == 12  # bounded: 2 * 60 / 10
    assert registry.pause_for(route="GET other") == 0  # other groups are not slowed
    now[0] = 1055
    assert registry.pause_for(route="GET presence") == pytest.approx(5)  # window ends at 1060
    now[0] = 1061
    assert registry.pause_for(route="GET presence") == 0
    observe(5)
    assert registry.pause_for(route="GET presence") == 0


# --- Logging -----------------------------------------------------------------------------------


def test_one_log_line_per_call(caplog) -> None:
    caplog.set_level(logging.INFO, logger="ringadmin.vendors")

    ringcentral.call_monitoring_groups()

    calls = [r for r in caplog.records if hasattr(r, "http_status")]
    assert [(r.http_method, r.http_path, r.http_status) for r in calls] == [
        ("POST", "/restapi/oauth/token", 200),
        ("GET", "/restapi/v1.0/account/~/call-monitoring-groups", 200),
    ]
    assert all(isinstance(r.duration_ms, int) for r in calls)
    assert (
        calls[1]
        .getMessage()
        .startswith("ringcentral GET /restapi/v1.0/account/~/call-monitoring-groups 200 ")
    )


def test_secrets_never_reach_the_logs(fake, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    seen: set[str] = {CLIENT_SECRET, JWT}

    def remember_tokens() -> None:
        for key in (ringcentral.platform_auth().cache_key, ringcx.ringcx_client().auth.cache_key):
            entry = cache.get(key) or {}
            seen.update(v for k, v in entry.items() if k.endswith("token") and v)

    local = product()
    ringcentral.account_info()
    ringcx.media_product_create(product=local)
    remember_tokens()
    fake.expire_tokens()
    ringcentral.account_info()
    ringcx.media_product_get(**product_key(local))
    remember_tokens()
    seen.add(local.secret)
    fake.add_fault(path_regex=MEDIA_PATH, status=429, times=1)
    with pytest.raises(RateLimited):  # an error path logs too
        ringcx.media_product_update(product=local)

    assert len(seen) >= 9  # secret, JWT, two platform and two RingCX token pairs, profile
    logged = caplog.text + "".join(repr(vars(r)) for r in caplog.records)
    leaked = [s for s in seen if s in logged]
    assert leaked == []


def test_settings_change_replaces_the_client(settings) -> None:
    first = ringcentral.platform_client()
    settings.VENDOR_HTTP_TIMEOUT_SECONDS = 3.0
    second = ringcentral.platform_client()
    assert second is not first
    assert second.timeout.read == 3.0
    assert first.is_closed
