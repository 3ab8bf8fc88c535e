"""Sign-in security: lockout and its cool-off, password rules, idle sessions, two-factor sign-in
and the Content Security Policy on every kind of page."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from hypothesis import given
from hypothesis import strategies as st

from ringadmin.compliance.models import AuditEvent, AuditEventType
from ringadmin.compliance.two_factor import token_clean
from ringadmin.settings.signin import two_factor_roles_parse

PASSWORD = "pw-Long-enough-1"
PROJECT_DIR = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


def _sign_in(client, username: str, password: str, path: str = "/login/"):
    return client.post(path, {"username": username, "password": password})


def current_code(device: TOTPDevice) -> str:
    """The code an authenticator app shows now for this device's key."""
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    return f"{code:0{device.digits}d}"


# --- Lockout ---------------------------------------------------------------------------------


def test_lockout_after_the_limit_even_with_the_right_password_then_release(
    client, make_user, settings
) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    make_user("supervisor", username="sam", password=PASSWORD)
    for _ in range(2):
        assert _sign_in(client, "sam", "wrong-password-1").status_code == 200  # form again
    locked = _sign_in(client, "sam", "wrong-password-1")
    assert locked.status_code == 429
    assert b"Sign-in locked" in locked.content
    assert b"15 minutes" in locked.content
    # Locked: the right password is refused too, and no session is made.
    assert _sign_in(client, "sam", PASSWORD).status_code == 429
    assert "_auth_user_id" not in client.session
    # Every failure is still audited (the lockout does not hide attempts).
    failed = AuditEvent.objects.filter(event_type=AuditEventType.LOGIN_FAILED)
    assert failed.count() == 4
    assert {event.data["username"] for event in failed} == {"sam"}

    # The cool-off passes: the attempts are older than AXES_COOLOFF_TIME.
    AccessAttempt.objects.update(
        attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    )
    response = _sign_in(client, "sam", PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"]


def test_lockout_is_per_username_and_address(client, make_user, settings) -> None:
    settings.AXES_FAILURE_LIMIT = 2
    make_user("supervisor", username="sam", password=PASSWORD)
    make_user("auditor", username="alex", password=PASSWORD)
    for _ in range(2):
        _sign_in(client, "sam", "wrong-password-1")
    assert _sign_in(client, "sam", PASSWORD).status_code == 429
    # Another user from the same address, and the same user from another address, sign in.
    assert _sign_in(client, "alex", PASSWORD).status_code == 302
    client.logout()
    other = client.post(
        "/login/", {"username": "sam", "password": PASSWORD}, REMOTE_ADDR="10.9.8.7"
    )
    assert other.status_code == 302


def test_the_admin_sign_in_is_locked_too(client, make_user, settings) -> None:
    settings.AXES_FAILURE_LIMIT = 2
    make_user("admin", username="ada", password=PASSWORD)
    for _ in range(2):
        _sign_in(client, "ada", "wrong-password-1", path="/admin/login/")
    response = _sign_in(client, "ada", PASSWORD, path="/admin/login/")
    assert response.status_code == 429
    assert b"Sign-in locked" in response.content
    assert _sign_in(client, "ada", PASSWORD).status_code == 429  # and the site's sign-in


# --- Passwords -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "password", "refusal"),
    [
        ("ann", "Short-pw-1", "too short"),
        ("ann", "password1234", "too common"),
        ("ann", "804417392651", "entirely numeric"),
        ("annabelle.whitford", "annabelle.whitford1", "too similar"),
    ],
)
def test_create_user_refuses_weak_passwords(monkeypatch, username, password, refusal) -> None:
    monkeypatch.setenv("NEW_PASSWORD", password)
    with pytest.raises(CommandError, match=refusal):
        call_command(
            "create_user",
            "--role=supervisor",
            f"--username={username}",
            f"--email={username}@example.com",
            "--password-from-env=NEW_PASSWORD",
        )
    assert not AuditEvent.objects.filter(event_type=AuditEventType.USER_CREATED).exists()


def test_create_user_accepts_a_long_uncommon_password(monkeypatch) -> None:
    monkeypatch.setenv("NEW_PASSWORD", "violet-harbour-lantern-7")
    call_command(
        "create_user", "--role=auditor", "--username=ann", "--password-from-env=NEW_PASSWORD"
    )
    assert AuditEvent.objects.filter(event_type=AuditEventType.USER_CREATED).count() == 1


# --- Sessions --------------------------------------------------------------------------------


def test_sessions_end_when_idle_and_at_browser_close(client, make_user, settings) -> None:
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True
    settings.SESSION_EXPIRE_AT_BROWSER_CLOSE = False  # to see the idle expiry on the cookie
    make_user("supervisor", username="sam", password=PASSWORD)
    _sign_in(client, "sam", PASSWORD)
    first = client.session.get_expiry_date()
    response = client.get("/calls/")
    assert response.cookies["sessionid"]["max-age"] == 30 * 60
    assert client.session.get_expiry_date() > first  # each request restarts the idle count


def test_a_session_cookie_without_expiry_by_default(client, make_user) -> None:
    make_user("supervisor", username="sam", password=PASSWORD)
    response = _sign_in(client, "sam", PASSWORD)
    assert response.cookies["sessionid"]["max-age"] == ""  # gone when the browser closes


def _settings_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DEBUG="true", RINGADMIN_ENV_FILE="/nonexistent", **extra)
    return env


def test_sign_in_settings_come_from_the_environment() -> None:
    code = (
        "from ringadmin import settings as s; print(s.AXES_FAILURE_LIMIT, "
        "s.AXES_COOLOFF_TIME.total_seconds(), s.SESSION_COOKIE_AGE, "
        "s.SESSION_EXPIRE_AT_BROWSER_CLOSE, s.REQUIRE_TWO_FACTOR_ROLES, "
        "s.AUTH_PASSWORD_VALIDATORS[1]['OPTIONS']['min_length'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_DIR,
        env=_settings_env(
            AXES_FAILURE_LIMIT="7",
            AXES_COOLOFF_MINUTES="2.5",
            SESSION_IDLE_TIMEOUT_SECONDS="600",
            SESSION_EXPIRE_AT_BROWSER_CLOSE="false",
            REQUIRE_TWO_FACTOR_ROLES="Admins, auditor",
            PASSWORD_MIN_LENGTH="16",
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.split("\n")[0] == "7 150.0 600 False ['admin', 'auditor'] 16"


def test_an_unknown_two_factor_role_stops_the_start() -> None:
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="unknown role"):
        two_factor_roles_parse(["admin", "agents"])


@given(st.text(max_size=20))
def test_token_clean_keeps_only_codes(raw: str) -> None:
    token = token_clean(raw)
    assert token is None or (token.isdigit() and token.isascii() and 6 <= len(token) <= 8)
    if token is not None:
        assert token == "".join(raw.split())


# --- Two-factor sign-in ----------------------------------------------------------------------


def test_a_required_role_enrols_after_the_password_then_reaches_admin(
    client, make_user, settings, caplog
) -> None:
    settings.REQUIRE_TWO_FACTOR_ROLES = ["admin"]
    user = make_user("admin", username="ada", password=PASSWORD)
    response = _sign_in(client, "ada", PASSWORD)
    assert response.status_code == 302
    home = client.get(response["Location"])
    assert home.status_code == 302
    assert home["Location"].startswith("/login/two-factor/?next=")
    # The admin site too.
    assert client.get("/admin/")["Location"].startswith("/login/two-factor/?next=%2Fadmin%2F")

    page = client.get("/login/two-factor/?next=/admin/")
    assert page.status_code == 200
    assert b"<svg" in page.content
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert page.context["secret"].encode() in page.content
    assert client.get("/login/two-factor/").context["secret"] == page.context["secret"]

    with caplog.at_level(logging.WARNING, logger="ringadmin.signin"):
        wrong = client.post("/login/two-factor/", {"token": "000000x", "next": "/admin/"})
    assert wrong.status_code == 400
    assert "two-factor enrolment: wrong code" in caplog.text

    done = client.post("/login/two-factor/", {"token": current_code(device), "next": "/admin/"})
    assert done.status_code == 302
    assert done["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    device.refresh_from_db()
    assert device.confirmed


def test_an_enrolled_user_gives_a_code_after_the_password(client, make_user, settings) -> None:
    user = make_user("auditor", username="alex", password=PASSWORD)
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    _sign_in(client, "alex", PASSWORD)
    response = client.get("/audit/")
    assert response["Location"] == "/login/verify/?next=%2Faudit%2F"
    # No enrolling of another device before the code is given.
    assert client.get("/login/two-factor/")["Location"] == "/"
    client.logout()
    _sign_in(client, "alex", PASSWORD)
    code = current_code(device)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    refused = client.post("/login/verify/", {"token": wrong, "next": "/audit/"})
    assert refused.status_code == 400
    assert b"must wait a few seconds" in refused.content
    # Right away the right code is refused too (the device's throttle), and the page says why.
    too_soon = client.post("/login/verify/", {"token": code, "next": "/audit/"})
    assert too_soon.status_code == 400
    assert b"must wait a few seconds" in too_soon.content
    device.refresh_from_db()
    device.throttling_failure_count = 0  # the throttle would delay the next try
    device.throttling_failure_timestamp = None
    device.save()
    ok = client.post("/login/verify/", {"token": code, "next": "https://evil.example/"})
    assert ok.status_code == 302
    assert ok["Location"] == "/"  # an outside next is never followed
    assert client.get("/audit/").status_code == 200


def test_roles_not_required_sign_in_with_the_password_alone(client, make_user, settings) -> None:
    settings.REQUIRE_TWO_FACTOR_ROLES = ["admin", "auditor"]
    make_user("supervisor", username="sam", password=PASSWORD)
    _sign_in(client, "sam", PASSWORD)
    assert client.get("/calls/").status_code == 200


# --- Content Security Policy -----------------------------------------------------------------


def _script_src(header: str) -> str:
    directives = dict(
        part.strip().split(" ", 1) for part in header.split(";") if " " in part.strip()
    )
    return directives["script-src"]


@pytest.mark.parametrize("path", ["/login/", "/calls/", "/audit/", "/admin/", "/api/v1/docs"])
def test_pages_carry_a_policy_without_inline_scripts(client, make_user, path) -> None:
    user = make_user("admin", username="ada", password=PASSWORD)
    if path != "/login/":
        client.force_login(user)
    response = client.get(path)
    assert response.status_code == 200
    header = response["Content-Security-Policy"]
    assert _script_src(header) == "'self'"
    assert "unsafe-eval" not in header
    assert "frame-ancestors 'none'" in header


def test_swagger_ui_start_script_is_a_file(client, make_user) -> None:
    client.force_login(make_user("admin", username="ada", password=PASSWORD))
    page = client.get("/api/v1/docs").content.decode()
    assert "<script>" not in page
    script = client.get("/api/v1/docs?script=")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()
