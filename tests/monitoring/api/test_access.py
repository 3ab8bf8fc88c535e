"""Who may call which endpoint, how tokens authenticate, and that rows are scoped by the
selectors: every endpoint for every role, through real tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from ringadmin.api_tokens.models import ApiToken
from ringadmin.api_tokens.services import api_token_revoke
from ringadmin.calls.models import Call
from tests.factories import CallFactory

pytestmark = pytest.mark.django_db

ENDPOINTS = {
    "calls": "/api/v1/calls/",
    "call": "/api/v1/calls/{id}/",
    "transcript": "/api/v1/calls/{id}/transcript",
    "recording": "/api/v1/calls/{id}/recording",
    "audit": "/api/v1/audit-events/",
    "schema": "/api/v1/schema",
    "docs": "/api/v1/docs",
    "redoc": "/api/v1/redoc",
}
# role (None: signed in, no role) → endpoints it may use; every other one is 403.
ALLOWED = {
    None: {"schema", "docs", "redoc"},
    "supervisor": {"calls", "call", "transcript", "recording", "schema", "docs", "redoc"},
    "auditor": {"calls", "call", "transcript", "audit", "schema", "docs", "redoc"},
    "admin": set(ENDPOINTS),
}
CASES = [(role, name) for role in ALLOWED for name in ENDPOINTS]


@pytest.mark.parametrize(("role", "endpoint"), CASES, ids=[f"{r}-{e}" for r, e in CASES])
def test_each_role_gets_exactly_its_endpoints(api_client_for, recorded_call, role, endpoint):
    client = api_client_for(role)
    response = client.get(ENDPOINTS[endpoint].format(id=recorded_call.pk))
    expected = 200 if endpoint in ALLOWED[role] else 403
    assert response.status_code == expected, response.content[:300]
    if expected == 403:
        assert response.json()["code"] == "permission_denied"
    elif endpoint in ("calls", "call", "transcript", "audit"):
        assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_anonymous_gets_401_with_a_bearer_challenge(anonymous_client, recorded_call, endpoint):
    response = anonymous_client.get(ENDPOINTS[endpoint].format(id=recorded_call.pk))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json()["code"] == "not_authenticated"


def test_a_signed_in_browser_session_works_too(client, make_user, recorded_call):
    client.force_login(make_user("supervisor"))
    assert client.get(f"/api/v1/calls/{recorded_call.pk}/").status_code == 200


def _refused(client, code: str) -> None:
    response = client.get("/api/v1/calls/")
    assert response.status_code == 401, response.content
    assert response.json()["code"] == code
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_token_is_refused(api_client_for):
    client = api_client_for("supervisor")
    assert client.get("/api/v1/calls/").status_code == 200
    api_token_revoke(token=client.token)
    _refused(client, "token_revoked")


def test_an_expired_token_is_refused(api_client_for):
    client = api_client_for("supervisor")
    ApiToken.objects.filter(pk=client.token.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    _refused(client, "token_expired")


def test_a_token_not_yet_expired_works(api_client_for):
    client = api_client_for("supervisor")
    ApiToken.objects.filter(pk=client.token.pk).update(
        expires_at=timezone.now() + timedelta(hours=1)
    )
    assert client.get("/api/v1/calls/").status_code == 200


def test_an_unknown_token_is_refused(api_client_for):
    client = api_client_for("supervisor")
    # Same prefix, different rest: found by prefix, refused by the hash.
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {client.secret[:-4]}AAAA")
    _refused(client, "token_invalid")


def test_a_deactivated_users_token_is_refused(api_client_for):
    client = api_client_for("supervisor")
    client.user.is_active = False
    client.user.save(update_fields=["is_active"])
    _refused(client, "user_inactive")


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer ", "bearer  ", "Bearer a b", "Bearer tok\x00en", "Bearer ünïcode"]
)
def test_a_malformed_bearer_header_is_a_401(anonymous_client, header):
    anonymous_client.credentials(HTTP_AUTHORIZATION=header)
    _refused(anonymous_client, "authorization_malformed")


def test_another_scheme_is_not_authenticated(anonymous_client):
    anonymous_client.credentials(HTTP_AUTHORIZATION="Basic dXNlcjpwdw==")
    _refused(anonymous_client, "not_authenticated")


def test_use_is_recorded_at_most_once_a_minute(api_client_for):
    client = api_client_for("supervisor")
    assert client.token.last_used_at is None
    client.get("/api/v1/calls/")
    first = ApiToken.objects.get(pk=client.token.pk).last_used_at
    assert first is not None
    client.get("/api/v1/calls/")
    assert ApiToken.objects.get(pk=client.token.pk).last_used_at == first
    ApiToken.objects.filter(pk=client.token.pk).update(last_used_at=first - timedelta(minutes=2))
    client.get("/api/v1/calls/")
    assert ApiToken.objects.get(pk=client.token.pk).last_used_at > first


def test_throttled_per_user_with_the_configured_rate(api_client_for, monkeypatch):
    from django.core.cache import cache
    from rest_framework.throttling import UserRateThrottle

    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "2/minute"})
    client, other = api_client_for("supervisor"), api_client_for("supervisor")
    for key in (f"throttle_user_{client.user.pk}", f"throttle_user_{other.user.pk}"):
        cache.delete(key)
    assert [client.get("/api/v1/calls/").status_code for _ in range(3)] == [200, 200, 429]
    assert client.get("/api/v1/calls/").json()["code"] == "throttled"
    assert other.get("/api/v1/calls/").status_code == 200  # per user, not global


# --- scoping: the views ask the selectors, and show exactly what they allow -------------------


def test_a_user_without_view_call_sees_no_call(api_client_for, recorded_call):
    client = api_client_for(None)
    for path in ("/api/v1/calls/", f"/api/v1/calls/{recorded_call.pk}/"):
        response = client.get(path)
        assert response.status_code == 403
        assert recorded_call.ringcx_call_id not in response.content.decode()


def test_rows_are_exactly_those_the_selector_allows(api_client_for, recorded_call, monkeypatch):
    """Narrow ``calls_visible_to`` and every endpoint follows: the list shrinks, and the hidden
    call's detail, transcript and recording are 404s (its existence is not revealed)."""
    import monitoring.api.views
    import ringadmin.calls.selectors as call_selectors
    from monitoring.api import selectors as api_selectors

    visible = CallFactory()
    real = call_selectors.calls_visible_to

    def narrowed(*, user):
        return real(user=user).exclude(pk=recorded_call.pk)

    for module in (call_selectors, api_selectors, monitoring.call_search):
        monkeypatch.setattr(module, "calls_visible_to", narrowed)
    client = api_client_for("admin")
    ids = [row["id"] for row in client.get("/api/v1/calls/").json()["results"]]
    assert ids == [visible.pk]
    for path in ("/", "/transcript", "/recording"):
        response = client.get(f"/api/v1/calls/{recorded_call.pk}{path}")
        assert response.status_code == 404, path
        assert response.json() == {"detail": "No such call.", "code": "not_found"}
    assert client.get(f"/api/v1/calls/{visible.pk}/").status_code == 200


def test_a_missing_call_is_404(api_client_for):
    client = api_client_for("supervisor")
    missing = (Call.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1000
    assert client.get(f"/api/v1/calls/{missing}/").status_code == 404
