"""Streaming profiles reach RingCX (the local fake), exactly once, with visible failures."""

from __future__ import annotations

import httpx
import pytest
from django.core.cache import cache

from ringadmin.vendors.fake import FakeRingCentral
from streaming.models import StreamingProfile, SyncState
from streaming.services import (
    streaming_profile_delete,
    streaming_profile_disable,
    streaming_profile_rotate_secret,
    streaming_profile_update,
)
from streaming.sync import streaming_profile_verify
from tests.factories import make_streaming_profile

pytestmark = pytest.mark.django_db(transaction=True)

BASE = "/platform/api/media/product"  # create (POST) and update (PUT), ids in the body
ITEM = f"{BASE}/account/99990001/type/QUEUE/id/1234"  # read (GET) and delete (DELETE)


@pytest.fixture
def fake(settings):
    with FakeRingCentral() as server:
        settings.RINGCENTRAL_SERVER_URL = server.url
        settings.RINGCX_SERVER_URL = server.url
        settings.RINGCENTRAL_CLIENT_ID = "fake-client-id"
        settings.RINGCENTRAL_CLIENT_SECRET = "fake-client-secret"
        settings.RINGCENTRAL_JWT = "fake-jwt"
        settings.CELERY_TASK_ALWAYS_EAGER = True
        from ringadmin.vendors.http import reset_clients

        reset_clients()
        cache.clear()
        yield server
        reset_clients()
        cache.clear()


def changes(fake, method: str | None = None) -> list[dict]:
    """Requests that changed a media product (POST/PUT/DELETE) at the fake."""
    wanted = {method} if method else {"POST", "PUT", "DELETE"}
    return [r for r in fake.requests(path_regex=BASE) if r["method"] in wanted]


def test_create_posts_the_profile_and_shows_it_synced(fake) -> None:
    profile = make_streaming_profile()
    (post,) = changes(fake)
    assert post["method"] == "POST"
    assert post["path"] == BASE  # RingCX refuses a POST to the item path
    assert [r["path"] for r in fake.requests(method="GET", path_regex=BASE)] == [ITEM]
    assert post["body"] == {
        "productType": "QUEUE",
        "productId": 1234,
        "subAccountId": "99990001",
        "mainAccountId": "99990000",
        "rcAccountId": "123456789",
        "streamingUrl": "wss://rec.example.com",
        "secret": "[redacted]",
    }  # the fake's log masks it; the store has it
    (stored,) = fake.media_products()
    assert stored["secret"] == profile.secret
    profile.refresh_from_db()
    assert profile.sync_state == SyncState.SYNCED
    assert profile.synced_at is not None
    assert profile.sync_error == ""


def test_change_and_rotation_put_the_new_values(fake) -> None:
    profile = make_streaming_profile()
    profile.streaming_url = "wss://rec2.example.com:8443"
    streaming_profile_update(profile=profile, changed_fields=["streaming_url"], actor=None)
    secret = streaming_profile_rotate_secret(profile=profile)
    puts = changes(fake, "PUT")
    assert [p["body"]["streamingUrl"] for p in puts] == ["wss://rec2.example.com:8443"] * 2
    assert {p["path"] for p in puts} == {BASE}
    (stored,) = fake.media_products()
    assert stored["secret"] == secret


def test_disable_and_delete_remove_it_from_ringcx(fake) -> None:
    profile = make_streaming_profile()
    streaming_profile_disable(profile=profile)
    assert [(r["method"], r["path"]) for r in changes(fake)] == [("POST", BASE), ("DELETE", ITEM)]
    assert fake.media_products() == []
    profile.refresh_from_db()
    assert profile.sync_state == SyncState.SYNCED  # RingCX's text answer to DELETE is fine
    other = make_streaming_profile(product_id=77)
    streaming_profile_delete(profile=other)
    assert changes(fake)[-1]["method"] == "DELETE"
    assert changes(fake)[-1]["path"].endswith("/type/QUEUE/id/77")
    assert not StreamingProfile.objects.filter(product_id=77).exists()


def test_an_outage_then_success_changes_ringcx_exactly_once(fake) -> None:
    fake.add_fault(method="POST", path_regex=BASE, status=503, times=1)
    profile = make_streaming_profile()
    profile.refresh_from_db()
    assert profile.sync_state == SyncState.SYNCED
    assert len(fake.media_products()) == 1
    posts = changes(fake, "POST")
    assert len(posts) == 2  # the failed one, then the one that worked
    # a retry that follows a request RingCX did apply finds it and sends nothing new
    from streaming.sync import streaming_profile_push

    before = len(changes(fake))
    streaming_profile_push(profile_id=profile.pk)
    assert len(changes(fake)) == before


def test_a_rejection_is_shown_with_the_vendors_reason(fake, admin_client) -> None:
    fake.add_fault(
        method="POST",
        path_regex=BASE,
        status=400,
        body='{"errorCode":"invalid.streaming.url","generalMessage":'
        '"streamingUrl is not reachable"}',
    )
    profile = make_streaming_profile()
    profile.refresh_from_db()
    assert profile.sync_state == SyncState.FAILED
    assert "streamingUrl is not reachable" in profile.sync_error
    page = admin_client.get(f"/admin/streaming/streamingprofile/{profile.pk}/change/")
    assert "streamingUrl is not reachable" in page.content.decode()
    listing = admin_client.get("/admin/streaming/streamingprofile/")
    assert "Failed" in listing.content.decode()


def test_drift_is_detected_and_not_overwritten(fake) -> None:
    profile = make_streaming_profile()
    token = httpx.post(
        f"{fake.url}/api/auth/login/rc/accesstoken?includeRefresh=true",
        data={"rcAccessToken": _platform_token(fake), "rcTokenType": "Bearer"},
    )
    edited = {**fake.media_products()[0], "streamingUrl": "wss://elsewhere.example.com"}
    answer = httpx.put(
        f"{fake.url}{BASE}",
        json=edited,
        headers={"Authorization": f"Bearer {token.json()['accessToken']}"},
    )
    assert answer.status_code == 200, answer.text
    writes_before = len(changes(fake))
    result = streaming_profile_verify(profile_id=profile.pk)
    assert result.drift == {
        "streaming_url": {"local": "wss://rec.example.com", "ringcx": "wss://elsewhere.example.com"}
    }
    profile.refresh_from_db()
    assert profile.sync_state == SyncState.DRIFT
    assert len(changes(fake)) == writes_before  # verifying changed nothing


def test_without_credentials_profiles_stay_local_and_say_so(settings) -> None:
    settings.RINGCENTRAL_CLIENT_ID = ""
    profile = make_streaming_profile()
    profile.refresh_from_db()
    assert profile.sync_state == SyncState.NOT_CONFIGURED
    assert "RINGCENTRAL_CLIENT_ID" in profile.sync_error


def _platform_token(fake) -> str:
    answer = httpx.post(
        f"{fake.url}/restapi/oauth/token",
        auth=("fake-client-id", "fake-client-secret"),
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "fake-jwt"},
    )
    return answer.json()["access_token"]


@pytest.fixture
def admin_client(client, make_user):
    client.force_login(make_user("admin"))
    return client


def test_retry_delay_backs_off_with_jitter_and_honours_retry_after() -> None:
    from ringadmin.vendors.errors import RateLimited, Unavailable
    from streaming.tasks import _retry_delay

    outage = Unavailable("down", vendor="ringcx")
    delays = [_retry_delay(outage, retries) for retries in range(6)]
    assert all(5 * 2**n / 2 <= d <= 5 * 2**n for n, d in enumerate(delays))
    assert _retry_delay(outage, 30) <= 600
    assert _retry_delay(RateLimited("slow down", vendor="ringcx", retry_after=120.0), 0) >= 120


def test_a_rate_limit_is_retried_after_the_vendors_delay(fake, monkeypatch) -> None:
    """The task asks Celery to wait at least Retry-After before the next attempt."""
    from streaming import tasks

    waits: list[float] = []
    original = tasks._retry_delay

    def recording_delay(exc, retries):
        waits.append(original(exc, retries))
        return waits[-1]

    monkeypatch.setattr(tasks, "_retry_delay", recording_delay)
    fake.add_fault(method="GET", path_regex=BASE, status=429, retry_after=90, times=1)
    profile = make_streaming_profile()
    profile.refresh_from_db()
    assert waits
    assert waits[0] >= 90
    assert profile.sync_state == SyncState.SYNCED
    assert len(fake.media_products()) == 1


def test_an_admin_creates_a_profile_in_the_admin_and_sees_it_synced(fake, admin_client) -> None:
    form = {
        "product_type": "QUEUE",
        "product_id": "4321",
        "sub_account_id": "99990001",
        "main_account_id": "99990000",
        "rc_account_id": "123456789",
        "streaming_url": "wss://rec.example.com",
        "enabled": "on",
        "retention_days": "365",
        "notes": "",
        "generate_secret": "on",
        "_save": "Save",
    }
    response = admin_client.post("/admin/streaming/streamingprofile/add/", form, follow=True)
    assert response.status_code == 200
    profile = StreamingProfile.objects.get(product_id=4321)
    assert profile.sync_state == SyncState.SYNCED
    listing = admin_client.get("/admin/streaming/streamingprofile/").content.decode()
    assert "Synced" in listing
    (stored,) = fake.media_products()
    assert stored["productId"] == 4321
    assert stored["secret"] == profile.secret
