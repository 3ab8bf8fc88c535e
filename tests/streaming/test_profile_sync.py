"""Streaming profiles reach RingCX (the local fake), exactly once, with visible failures."""

from __future__ import annotations

import json

import httpx
import pytest
from django.core.cache import cache

from ringadmin.tools.vendor_fake import FakeRingCentral
from streaming.models import StreamingProfile, SyncState
from streaming.profiles.services import (
    streaming_profile_delete,
    streaming_profile_disable,
    streaming_profile_rotate_secret,
    streaming_profile_update,
)
from streaming.profiles.sync import streaming_profile_verify
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
    from streaming.profiles.sync import streaming_profile_push

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


def test_retry_policy_backs_off_with_jitter_honours_retry_after_and_stops() -> None:
    from ringadmin.vendors.errors import RateLimited, Rejected, Unavailable
    from streaming.profiles.sync import PROFILE_SYNC_RETRY as policy

    outage = Unavailable("down", vendor="ringcx")
    delays = [policy.next_delay(outage, retries=n) for n in range(8)]
    assert all(min(600, 5 * 2**n) / 2 <= d <= min(600, 5 * 2**n) for n, d in enumerate(delays))
    assert policy.next_delay(outage, retries=8) is None  # eight retries, then it is shown
    limited = RateLimited("slow down", vendor="ringcx", retry_after=120.0)
    assert policy.next_delay(limited, retries=0) >= 120
    asked = Unavailable("maintenance", vendor="ringcx", status=503, retry_after=45.0)
    assert policy.next_delay(asked, retries=0) >= 45
    assert policy.next_delay(Rejected("bad url", vendor="ringcx"), retries=0) is None


def test_a_rate_limit_is_retried_after_the_vendors_delay(fake, monkeypatch) -> None:
    """The task asks Celery to wait at least Retry-After before the next attempt."""
    from ringadmin.retry import RetryPolicy
    from streaming.profiles import sync

    waits: list[float | None] = []

    class Recording(RetryPolicy):
        def next_delay(self, exc, *, retries):
            waits.append(super().next_delay(exc, retries=retries))
            return waits[-1]

    shared = sync.PROFILE_SYNC_RETRY
    monkeypatch.setattr(sync, "PROFILE_SYNC_RETRY", Recording(shared.retryable, shared.max_retries))
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


# --- `manage.py streaming_profile sync` retries as the task does ------------------------------


def _local_profile(settings):
    """A profile made while RingCX was not configured, so nothing was pushed yet."""
    from ringadmin.vendors.http import reset_clients

    client_id = settings.RINGCENTRAL_CLIENT_ID
    settings.RINGCENTRAL_CLIENT_ID = ""
    profile = make_streaming_profile()
    settings.RINGCENTRAL_CLIENT_ID = client_id
    reset_clients()
    profile.refresh_from_db()
    assert profile.sync_state == SyncState.NOT_CONFIGURED
    return profile


def _sync_command(*args: str) -> tuple[str, str, list[float], Exception | None]:
    """Run ``streaming_profile sync``; its waits are recorded, not spent."""
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    from streaming.management.commands.streaming_profile import Command

    command = Command()
    waits: list[float] = []
    command.sleep = waits.append
    out, err = StringIO(), StringIO()
    try:
        call_command(command, "sync", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return out.getvalue(), err.getvalue(), waits, exc
    return out.getvalue(), err.getvalue(), waits, None


def test_sync_command_retries_an_outage_honouring_retry_after(fake, settings) -> None:
    profile = _local_profile(settings)
    fake.add_fault(method="POST", path_regex=f"^{BASE}$", status=503, retry_after=7, times=2)

    out, _, waits, error = _sync_command(str(profile.pk))

    assert error is None, out
    assert len(waits) == 2
    assert all(wait >= 7 for wait in waits)  # never sooner than RingCX's Retry-After
    lines = out.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"[1/1] profile {profile.pk}: RingCX is unavailable (HTTP 503")
    assert lines[0].endswith("(retry 1 of 8).")
    assert "Retrying in " in lines[1]
    assert lines[1].endswith("(retry 2 of 8).")
    assert lines[2] == f"[1/1] profile {profile.pk}: created"
    assert len(changes(fake, "POST")) == 3  # two refused, then the one that worked
    assert len(fake.media_products()) == 1
    profile.refresh_from_db()
    assert profile.sync_state == SyncState.SYNCED


def test_sync_command_gives_up_after_its_retries_and_says_so(fake, settings) -> None:
    profile = _local_profile(settings)
    fake.add_fault(method="GET", path_regex=BASE, status=503)

    out, err, waits, error = _sync_command(str(profile.pk), "--retries", "2", "--json")

    assert error is not None
    assert "1 of 1 profile(s) failed" in str(error)
    assert len(waits) == 2
    assert 2.5 <= waits[0] <= 5  # the task's backoff: 5 s, then 10 s, halved by jitter at most
    assert 5 <= waits[1] <= 10
    assert len(fake.requests(method="GET", path_regex=BASE)) == 3
    (result,) = json.loads(out)  # stdout stays JSON; progress went to stderr
    assert result["outcome"] == "failed"
    assert "HTTP 503" in result["detail"]
    assert err.count("Retrying in") == 2
    assert "(retry 2 of 2)" in err
    profile.refresh_from_db()
    assert profile.sync_state == SyncState.FAILED
    assert "HTTP 503" in profile.sync_error


def test_sync_command_does_not_retry_what_cannot_succeed(fake, settings) -> None:
    profile = _local_profile(settings)
    fake.add_fault(method="POST", path_regex=BASE, status=400, times=1)

    out, _, waits, error = _sync_command(str(profile.pk))

    assert error is not None
    assert waits == []
    assert len(changes(fake, "POST")) == 1
    assert "Retrying" not in out
    profile.refresh_from_db()
    assert profile.sync_state == SyncState.FAILED


def test_sync_command_with_no_retries_tries_once(fake, settings) -> None:
    profile = _local_profile(settings)
    fake.add_fault(method="GET", path_regex=BASE, status=429, retry_after=3, times=1)

    out, _, waits, error = _sync_command(str(profile.pk), "--retries", "0")

    assert error is not None
    assert waits == []
    assert "rate limiting" in out
    assert len(fake.requests(method="GET", path_regex=BASE)) == 1
