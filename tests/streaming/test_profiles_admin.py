"""Streaming profile and handshake admin: services underneath, the secret shown exactly once."""

from __future__ import annotations

import html
import logging
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry

from ringadmin.compliance.audit import audit_chain_verify
from ringadmin.compliance.models import AuditEvent, AuditEventType
from streaming.ingest.handshake_log import ingest_handshake_log
from streaming.models import HandshakeOutcome, IngestHandshake, StreamingProfile
from streaming.profiles import admin as profiles_admin
from streaming.profiles import services as profile_services
from streaming.profiles.selectors import streaming_secret_matches
from tests.factories import make_streaming_profile

pytestmark = pytest.mark.django_db

PROFILES = "/admin/streaming/streamingprofile/"
HANDSHAKES = "/admin/streaming/ingesthandshake/"
ONCE_NOTE = "copy it now, it will not be shown again"


def form_data(**overrides: Any) -> dict[str, Any]:
    """A valid add form; failure tests change one field of it."""
    data = {
        "product_type": "QUEUE",
        "product_id": "1234",
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
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def events(event_type: AuditEventType) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_type=event_type).order_by("sequence"))


@pytest.fixture
def admin_user(make_user):
    return make_user("admin")


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_add_form_offers_a_generated_secret_by_default(admin_client) -> None:
    response = admin_client.get(f"{PROFILES}add/")
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form["generate_secret"].value() is True
    assert " checked" in str(form["generate_secret"])
    assert "secret" not in form.fields


def test_create_shows_the_secret_once_and_never_again(admin_client, admin_user, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    response = admin_client.post(f"{PROFILES}add/", form_data(), follow=True)

    profile = StreamingProfile.objects.get()
    secret = profile.secret
    assert len(secret) >= 40
    assert response.redirect_chain[-1][0] == PROFILES
    page = response.content.decode()
    assert page.count(secret) == 1
    assert ONCE_NOTE in page
    created = events(AuditEventType.PROFILE_CREATED)
    assert [(e.actor_id, e.target_id) for e in created] == [(admin_user.pk, str(profile.pk))]

    ingest_handshake_log(
        client="203.0.113.5:4431",
        path="/",
        query_params={"callId": "c-1", "productId": "1234", "secret": secret},
        header_names=["host", "authorization"],
        secret_source="query",
        outcome=HandshakeOutcome.ACCEPTED,
        status_code=101,
        reason="ok",
        profile=profile,
        ringcx_call_id="c-1",
    )
    handshake = IngestHandshake.objects.get()
    for url in (
        PROFILES,
        f"{PROFILES}{profile.pk}/change/",
        f"{PROFILES}{profile.pk}/history/",
        f"{PROFILES}{profile.pk}/delete/",
        HANDSHAKES,
        f"{HANDSHAKES}{handshake.pk}/change/",
    ):
        later = admin_client.get(url)
        assert later.status_code == 200, url
        assert secret not in later.content.decode(), url
    change_page = admin_client.get(f"{PROFILES}{profile.pk}/change/").content.decode()
    assert profile.masked_secret in change_page
    assert profile.masked_secret in admin_client.get(PROFILES).content.decode()
    assert secret not in caplog.text
    assert not any(secret in str(e.data) for e in AuditEvent.objects.all())
    assert not any(secret in e.change_message for e in LogEntry.objects.all())


def test_create_without_a_secret_says_so(admin_client) -> None:
    response = admin_client.post(f"{PROFILES}add/", form_data(generate_secret=None), follow=True)
    assert StreamingProfile.objects.get().secret == ""
    assert b"has no secret" in response.content
    assert ONCE_NOTE.encode() not in response.content


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://rec.example.com", "must start with wss://"),
        ("wss://rec.example.com/ingest", "remove the path, query or fragment"),
        ("wss://rec.example.com:99999", "between 1 and 65535"),
        ("wss://-bad-.example.com", "valid host name"),
    ],
)
def test_a_bad_url_shows_the_clear_message(admin_client, url: str, message: str) -> None:
    response = admin_client.post(f"{PROFILES}add/", form_data(streaming_url=url))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not StreamingProfile.objects.exists()
    assert not events(AuditEventType.PROFILE_CREATED)


def test_a_duplicate_product_is_a_form_error(admin_client) -> None:
    make_streaming_profile()
    response = admin_client.post(f"{PROFILES}add/", form_data(streaming_url="wss://other.example"))
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert StreamingProfile.objects.count() == 1


def test_the_same_product_in_another_sub_account_is_allowed(admin_client) -> None:
    make_streaming_profile()
    admin_client.post(f"{PROFILES}add/", form_data(sub_account_id="99990002"))
    assert StreamingProfile.objects.count() == 2


def _change_data(profile: StreamingProfile, **overrides: Any) -> dict[str, Any]:
    data = {
        "main_account_id": profile.main_account_id,
        "rc_account_id": profile.rc_account_id,
        "streaming_url": profile.streaming_url,
        "enabled": "on",
        "retention_days": str(profile.retention_days),
        "notes": profile.notes,
        "_save": "Save",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_edit_goes_through_the_service_with_the_changed_fields(admin_client, admin_user) -> None:
    profile = make_streaming_profile()
    secret = profile.secret
    response = admin_client.post(
        f"{PROFILES}{profile.pk}/change/",
        # product_id is read-only once created: a posted value is ignored.
        _change_data(profile, streaming_url="wss://new.example:8443", notes="moved", product_id=9),
    )
    assert response.status_code == 302
    profile.refresh_from_db()
    assert (profile.streaming_url, profile.notes, profile.product_id) == (
        "wss://new.example:8443",
        "moved",
        1234,
    )
    assert profile.secret == secret
    [changed] = events(AuditEventType.PROFILE_CHANGED)
    assert changed.actor_id == admin_user.pk
    assert changed.data["changed"] == ["notes", "streaming_url"]
    assert changed.data["changes"] == {
        "notes": {"old": "", "new": "moved"},
        "streaming_url": {"old": "wss://rec.example.com", "new": "wss://new.example:8443"},
    }


def test_edit_with_a_bad_url_is_refused(admin_client) -> None:
    profile = make_streaming_profile()
    response = admin_client.post(
        f"{PROFILES}{profile.pk}/change/", _change_data(profile, streaming_url="ws://plain.example")
    )
    assert response.status_code == 200
    assert "must start with wss://" in response.content.decode()
    profile.refresh_from_db()
    assert profile.streaming_url == "wss://rec.example.com"
    assert not events(AuditEventType.PROFILE_CHANGED)


def _action(client, action: str, profiles: list[StreamingProfile], **extra: str):
    data = {"action": action, "_selected_action": [str(p.pk) for p in profiles], **extra}
    return client.post(PROFILES, data, follow=True)


def test_rotate_action_shows_new_secrets_once_and_keeps_the_previous_valid(
    admin_client, admin_user
) -> None:
    first, second = make_streaming_profile(), make_streaming_profile(product_id=5678)
    old = {first.pk: first.secret, second.pk: second.secret}

    response = _action(admin_client, "rotate_secret", [first, second])

    page = response.content.decode()
    for profile in (first, second):
        profile.refresh_from_db()
        assert profile.secret != old[profile.pk]
        assert page.count(profile.secret) == 1
        assert old[profile.pk] not in page
        assert profile.previous_secret == old[profile.pk]
        assert streaming_secret_matches(profile=profile, presented=profile.secret)
        assert streaming_secret_matches(profile=profile, presented=old[profile.pk])
        assert not streaming_secret_matches(profile=profile, presented="guess")
    assert page.count(ONCE_NOTE) == 2
    rotated = events(AuditEventType.PROFILE_SECRET_ROTATED)
    assert {(e.actor_id, e.target_id) for e in rotated} == {
        (admin_user.pk, str(first.pk)),
        (admin_user.pk, str(second.pk)),
    }
    later = admin_client.get(PROFILES).content.decode()
    assert first.secret not in later
    assert second.secret not in later


def test_disable_action_disables_through_the_service(admin_client, admin_user) -> None:
    enabled, already_off = (
        make_streaming_profile(),
        make_streaming_profile(product_id=5678, enabled=False),
    )
    response = _action(admin_client, "disable", [enabled, already_off])
    assert b"Disabled 1 streaming profile(s)." in response.content
    assert not StreamingProfile.objects.filter(enabled=True).exists()
    [disabled] = events(AuditEventType.PROFILE_DISABLED)
    assert (disabled.actor_id, disabled.target_id) == (admin_user.pk, str(enabled.pk))


def test_delete_from_the_change_page_is_audited(admin_client, admin_user) -> None:
    profile = make_streaming_profile()
    response = admin_client.post(f"{PROFILES}{profile.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not StreamingProfile.objects.exists()
    [deleted] = events(AuditEventType.PROFILE_DELETED)
    assert (deleted.actor_id, deleted.target_id) == (admin_user.pk, str(profile.pk))
    assert deleted.data["product_id"] == 1234
    assert audit_chain_verify().ok


def test_delete_selected_is_audited_per_profile(admin_client) -> None:
    first, second = make_streaming_profile(), make_streaming_profile(product_id=5678)
    _action(admin_client, "delete_selected", [first, second], post="yes")
    assert not StreamingProfile.objects.exists()
    deleted = events(AuditEventType.PROFILE_DELETED)
    assert sorted(e.target_id for e in deleted) == sorted([str(first.pk), str(second.pk)])


def test_deletion_rolls_back_with_its_audit_entry(admin_client, monkeypatch) -> None:
    profile = make_streaming_profile()

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(StreamingProfile, "delete", refuse)
    admin_client.raise_request_exception = False
    response = admin_client.post(f"{PROFILES}{profile.pk}/delete/", {"post": "yes"})
    assert response.status_code == 500
    assert StreamingProfile.objects.filter(pk=profile.pk).exists()
    assert not events(AuditEventType.PROFILE_DELETED)


def test_list_search_and_filters(admin_client) -> None:
    make_streaming_profile(notes="front desk")
    make_streaming_profile(product_type="CAMPAIGN", product_id=777, streaming_url="wss://b.example")
    make_streaming_profile(product_id=888, enabled=False)

    def listed(query: str) -> set[int]:
        response = admin_client.get(f"{PROFILES}?{query}")
        assert response.status_code == 200
        return {p.product_id for p in response.context["cl"].result_list}

    assert listed("q=777") == {777}
    assert listed("q=b.example") == {777}
    assert listed("q=front") == {1234}
    assert listed("product_type__exact=CAMPAIGN") == {777}
    assert listed("enabled__exact=0") == {888}


def test_other_roles_cannot_reach_the_profile_admin(client, make_user) -> None:
    client.force_login(make_user("supervisor"))
    assert client.get(PROFILES).status_code == 302
    assert client.post(f"{PROFILES}add/", form_data()).status_code == 302
    assert not StreamingProfile.objects.exists()


def test_handshake_admin_is_read_only(admin_client) -> None:
    profile = make_streaming_profile()
    entry = ingest_handshake_log(
        client="203.0.113.5:4431",
        path="/",
        query_params={"callId": "c-9", "sessionId": "2", "productType": "Queue"},
        header_names=["host", "x-ringcx-secret"],
        secret_source="header",
        outcome=HandshakeOutcome.REJECTED,
        status_code=403,
        reason="secret does not match",
        profile=profile,
        ringcx_call_id="c-9",
    )
    listing = admin_client.get(HANDSHAKES)
    assert listing.status_code == 200
    assert b"secret does not match" in listing.content
    assert b"Add ingest handshake" not in listing.content

    detail = admin_client.get(f"{HANDSHAKES}{entry.pk}/change/")
    assert detail.status_code == 200
    page = html.unescape(detail.content.decode())
    assert '{\n  "callId": "c-9",\n  "productType": "Queue",' in page
    assert "host, x-ringcx-secret" in page
    assert 'name="_save"' not in page

    assert admin_client.get(f"{HANDSHAKES}add/").status_code == 403
    assert admin_client.post(f"{HANDSHAKES}{entry.pk}/change/", {"reason": "x"}).status_code == 403
    assert admin_client.post(f"{HANDSHAKES}{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert IngestHandshake.objects.get().reason == "secret does not match"


def test_handshake_admin_masks_every_name_the_ingest_accepts_a_secret_under(admin_client) -> None:
    """An entry written before ``auth`` and ``key`` were masked is masked on the page."""
    entry = IngestHandshake.objects.create(
        query_params={"auth": "4uth-secret", "KEY": "k3y-secret", "callId": "c-1"},
        header_names=[],
        outcome=HandshakeOutcome.ACCEPTED,
    )
    page = html.unescape(admin_client.get(f"{HANDSHAKES}{entry.pk}/change/").content.decode())
    assert "4uth-secret" not in page
    assert "k3y-secret" not in page
    assert '"callId": "c-1"' in page


def test_rotation_is_all_or_nothing(admin_client, monkeypatch) -> None:
    first, second = make_streaming_profile(), make_streaming_profile(product_id=5678)
    old = {first.pk: first.secret, second.pk: second.secret}
    real_rotate = profile_services.streaming_profile_rotate_secret

    def fail_on_second(*, profile: StreamingProfile, actor: Any = None) -> str:
        if profile.pk == second.pk:
            raise RuntimeError("database went away")
        return real_rotate(profile=profile, actor=actor)

    monkeypatch.setattr(profiles_admin, "streaming_profile_rotate_secret", fail_on_second)
    admin_client.raise_request_exception = False
    assert _action(admin_client, "rotate_secret", [first, second]).status_code == 500
    assert {p.pk: p.secret for p in StreamingProfile.objects.all()} == old
    assert not events(AuditEventType.PROFILE_SECRET_ROTATED)
