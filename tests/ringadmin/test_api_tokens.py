"""API tokens: issued once and stored hashed, checked in every state, revoked and listed from
the command line and the admin, each issue and revocation in the audit trail."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ringadmin.api_tokens.models import ApiToken
from ringadmin.api_tokens.services import (
    TokenRefused,
    api_token_check,
    api_token_create,
    api_token_mark_used,
    api_token_revoke,
)
from ringadmin.compliance.models import AuditEvent, AuditEventType

pytestmark = pytest.mark.django_db


def _stored_text(token: ApiToken) -> str:
    """Every column of the token's row and of every audit entry, as text."""
    row = ApiToken.objects.filter(pk=token.pk).values().get()
    audit = list(AuditEvent.objects.values())
    return json.dumps([row, audit], default=str)


def test_a_token_is_stored_as_its_sha256_only(make_user):
    user = make_user("supervisor")
    issued = api_token_create(user=user, name="nightly export")
    assert len(issued.secret) >= 43  # 32 random bytes
    token = ApiToken.objects.get(pk=issued.token.pk)
    assert token.key_hash == hashlib.sha256(issued.secret.encode()).hexdigest()
    assert token.prefix == issued.secret[:8]
    assert issued.secret not in _stored_text(token)
    assert issued.secret[8:20] not in _stored_text(token)
    event = AuditEvent.objects.get(event_type=AuditEventType.API_TOKEN_CREATED)
    assert event.target_id == str(token.pk)
    assert event.data == {
        "name": "nightly export",
        "prefix": token.prefix,
        "user": user.username,
        "expires_at": None,
    }


def test_two_tokens_never_share_a_secret(make_user):
    user = make_user("supervisor")
    secrets = {api_token_create(user=user, name=str(i)).secret for i in range(20)}
    assert len(secrets) == 20


def test_check_accepts_the_secret_and_refuses_every_other_state(make_user):
    issued = api_token_create(user=make_user("auditor"), name="t")
    assert api_token_check(issued.secret).pk == issued.token.pk
    with pytest.raises(TokenRefused) as unknown:
        api_token_check(issued.secret[:-1] + ("A" if issued.secret[-1] != "A" else "B"))
    assert unknown.value.code == "token_invalid"
    with pytest.raises(TokenRefused) as short:
        api_token_check("abc")
    assert short.value.code == "token_invalid"
    later = timezone.now() + timedelta(days=2)
    ApiToken.objects.filter(pk=issued.token.pk).update(expires_at=later - timedelta(days=1))
    assert api_token_check(issued.secret).pk == issued.token.pk
    with pytest.raises(TokenRefused) as expired:
        api_token_check(issued.secret, now=later)
    assert expired.value.code == "token_expired"
    assert api_token_revoke(token=issued.token) is True
    with pytest.raises(TokenRefused) as revoked:
        api_token_check(issued.secret)
    assert revoked.value.code == "token_revoked"


def test_revoking_twice_writes_once(make_user):
    issued = api_token_create(user=make_user("supervisor"), name="t")
    admin = make_user("admin")
    assert api_token_revoke(token=issued.token, revoked_by=admin, ip_address="198.51.100.1")
    assert not api_token_revoke(token=issued.token, revoked_by=admin)
    events = AuditEvent.objects.filter(event_type=AuditEventType.API_TOKEN_REVOKED)
    assert [(e.actor_id, e.ip_address) for e in events] == [(admin.pk, "198.51.100.1")]


def test_use_is_written_at_most_once_a_minute(make_user):
    issued = api_token_create(user=make_user("supervisor"), name="t")
    token = issued.token
    start = timezone.now()
    api_token_mark_used(token=token, now=start)
    with CaptureQueriesContext(connection) as queries:
        api_token_mark_used(token=token, now=start + timedelta(seconds=59))
    assert len(queries) == 0
    assert ApiToken.objects.get(pk=token.pk).last_used_at == start
    api_token_mark_used(token=token, now=start + timedelta(seconds=61))
    assert ApiToken.objects.get(pk=token.pk).last_used_at == start + timedelta(seconds=61)


def test_a_stale_copy_does_not_move_the_time_back(make_user):
    """Two processes holding the token: the one that read it earlier writes nothing newer."""
    issued = api_token_create(user=make_user("supervisor"), name="t")
    stale = ApiToken.objects.get(pk=issued.token.pk)
    now = timezone.now()
    api_token_mark_used(token=issued.token, now=now)
    api_token_mark_used(token=stale, now=now + timedelta(seconds=5))
    assert ApiToken.objects.get(pk=issued.token.pk).last_used_at == now


# --- the command --------------------------------------------------------------------------------


def _run(*args: str) -> str:
    out = StringIO()
    call_command("api_token", *args, stdout=out)
    return out.getvalue()


def test_command_creates_shows_once_lists_and_revokes(make_user):
    make_user("supervisor", username="ann")
    created = _run("create", "--user", "ann", "--name", "reports", "--expires-days", "30")
    secret = created.splitlines()[1]
    token = api_token_check(secret)
    assert token.user.username == "ann"
    assert token.name == "reports"
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    assert "will not be shown again" in created
    listed = _run("list")
    assert token.prefix in listed
    assert secret not in listed
    assert re.search(rf"{re.escape(token.prefix)}\s+ann\s+active\s+reports", listed)
    assert json.loads(_run("list", "--user", "ann", "--json"))[0]["state"] == "active"
    assert "Revoked" in _run("revoke", token.prefix)
    assert "already revoked" in _run("revoke", token.prefix)
    with pytest.raises(TokenRefused):
        api_token_check(secret)
    assert json.loads(_run("list", "--json"))[0]["state"] == "revoked"


def test_command_json_create_carries_the_token_once(make_user):
    make_user("auditor", username="bo")
    shape = json.loads(_run("create", "--user", "bo", "--json"))
    assert api_token_check(shape["token"]).prefix == shape["prefix"]
    assert shape["expires_at"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create", "--user", "nobody"), "no user named 'nobody'"),
        (("revoke", "zzzzzzzz"), "no API token with prefix 'zzzzzzzz'"),
    ],
)
def test_command_errors_say_what_to_fix(db, args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        _run(*args)


@pytest.mark.parametrize("days", ["0", "-3", "x", "99999"])
def test_command_refuses_a_bad_expiry(make_user, days):
    make_user("supervisor", username="cy")
    with pytest.raises(CommandError, match="expires-days"):
        _run("create", "--user", "cy", "--expires-days", days)


# --- the admin ----------------------------------------------------------------------------------


def test_admin_shows_a_new_token_once(client, make_user):
    admin = make_user("admin")
    holder = make_user("supervisor")
    client.force_login(admin)
    response = client.post(
        "/admin/api_tokens/apitoken/add/",
        {"user": holder.pk, "name": "from admin", "expires_at_0": "", "expires_at_1": ""},
        follow=True,
        REMOTE_ADDR="198.51.100.7",
    )
    assert response.status_code == 200
    page = response.content.decode()
    secret = re.search(r'<code class="api-token">([^<]+)</code>', page).group(1)
    token = api_token_check(secret)
    assert (token.user_id, token.name) == (holder.pk, "from admin")
    for again in ("/admin/api_tokens/apitoken/", f"/admin/api_tokens/apitoken/{token.pk}/change/"):
        shown = client.get(again).content.decode()
        assert token.prefix in shown
        assert secret not in shown
    event = AuditEvent.objects.get(event_type=AuditEventType.API_TOKEN_CREATED)
    assert (event.actor_id, event.ip_address) == (admin.pk, "198.51.100.7")


def test_admin_revokes_and_never_deletes(client, make_user):
    admin = make_user("admin")
    issued = api_token_create(user=make_user("supervisor"), name="t")
    client.force_login(admin)
    response = client.post(
        "/admin/api_tokens/apitoken/",
        {"action": "revoke", "_selected_action": [issued.token.pk]},
        follow=True,
    )
    assert "Revoked 1 API token(s)." in response.content.decode()
    with pytest.raises(TokenRefused):
        api_token_check(issued.secret)
    delete = client.get(f"/admin/api_tokens/apitoken/{issued.token.pk}/delete/")
    assert delete.status_code == 403
    assert ApiToken.objects.filter(pk=issued.token.pk).exists()


def test_only_admins_manage_tokens_in_the_admin(client, make_user):
    client.force_login(make_user("supervisor"))
    assert client.get("/admin/api_tokens/apitoken/add/").status_code in (302, 403)
