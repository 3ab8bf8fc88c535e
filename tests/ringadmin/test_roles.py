from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from ringadmin.compliance.roles import Role

pytestmark = pytest.mark.django_db

EXPECTED = {
    "Admins": {
        "auth.add_user",
        "auth.change_user",
        "auth.view_user",
        "auth.view_group",
        "calls.add_call",
        "calls.change_call",
        "calls.delete_call",
        "calls.view_call",
        "calls.view_live_call",
        "calls.play_recording",
        "calls.download_recording",
        # the call's analysis: a calls model, so Admins manage it like the call itself
        "calls.add_callanalysis",
        "calls.change_callanalysis",
        "calls.delete_callanalysis",
        "calls.view_callanalysis",
        "compliance.view_auditevent",
        # Legal holds are placed and released (never deleted); tombstones only viewed.
        "compliance.view_legalhold",
        "compliance.add_legalhold",
        "compliance.change_legalhold",
        "compliance.view_callpurge",
        # consent: notices drafted, published and retired through the admin; the log read
        "compliance.view_consentrecord",
        "compliance.export_consentrecord",
        "compliance.view_consentnotice",
        "compliance.add_consentnotice",
        "compliance.change_consentnotice",
        "compliance.view_consentnoticeseries",
        "compliance.add_consentnoticeseries",
        "compliance.change_consentnoticeseries",
        # API tokens are issued and revoked in the admin (deleting is refused there).
        "api_tokens.add_apitoken",
        "api_tokens.change_apitoken",
        "api_tokens.delete_apitoken",
        "api_tokens.view_apitoken",
    },
    "Supervisors": {"calls.view_call", "calls.view_live_call", "calls.play_recording"},
    "Auditors": {
        "calls.view_call",
        "compliance.view_auditevent",
        "compliance.export_auditevent",
        "compliance.view_legalhold",
        "compliance.add_legalhold",
        "compliance.change_legalhold",
        "compliance.view_callpurge",
        "compliance.view_consentrecord",
        "compliance.export_consentrecord",
        "compliance.view_consentnotice",
    },
}


def _permissions(group: Group) -> set[str]:
    return {
        f"{p.content_type.app_label}.{p.codename}"
        for p in group.permissions.select_related("content_type")
    }


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_group_has_exactly_the_intended_permissions(name: str) -> None:
    group = Group.objects.get(name=name)
    # Admins also get every permission of streaming/monitoring models as those apps add them.
    actual = _permissions(group)
    if name == "Admins":
        actual = {p for p in actual if not p.startswith(("streaming.", "monitoring."))}
    assert actual == EXPECTED[name]


def test_nobody_may_add_change_or_delete_audit_entries_or_consent_records() -> None:
    for group in Group.objects.all():
        assert not {
            p
            for p in _permissions(group)
            if p.startswith("compliance.")
            and p.endswith(("auditevent", "consentrecord"))
            and p.split(".")[1].startswith(("add_", "change_", "delete_"))
            and p.endswith(("_auditevent", "_callpurge"))
        }
        # Legal holds are released, never deleted.
        assert "compliance.delete_legalhold" not in _permissions(group)


def test_create_user_command_creates_a_user_in_the_role(monkeypatch) -> None:
    monkeypatch.setenv("RINGADMIN_USER_PASSWORD", "a-Strong-passphrase-42")
    call_command(
        "create_user",
        "--role",
        "supervisor",
        "--username",
        "sam",
        "--email",
        "sam@example.com",
        "--password-from-env",
    )
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username="sam")
    assert user.check_password("a-Strong-passphrase-42")
    assert list(user.groups.values_list("name", flat=True)) == ["Supervisors"]
    assert not user.is_staff
    assert user.has_perm("calls.view_live_call")
    assert not user.has_perm("compliance.view_auditevent")


def test_create_user_admin_role_is_staff(monkeypatch) -> None:
    monkeypatch.setenv("MY_PW", "a-Strong-passphrase-42")
    call_command(
        "create_user", "--role", "Admins", "--username", "ada", "--password-from-env", "MY_PW"
    )
    from django.contrib.auth import get_user_model

    assert get_user_model().objects.get(username="ada").is_staff


def test_create_user_rejects_an_unknown_role_clearly(monkeypatch) -> None:
    monkeypatch.setenv("RINGADMIN_USER_PASSWORD", "a-Strong-passphrase-42")
    with pytest.raises(
        CommandError,
        match=r"unknown role 'janitor': choose one of admin, "
        r"supervisor, auditor",
    ):
        call_command("create_user", "--role", "janitor", "--username", "x", "--password-from-env")


def test_create_user_rejects_weak_password_and_duplicates(monkeypatch) -> None:
    monkeypatch.setenv("RINGADMIN_USER_PASSWORD", "123")
    with pytest.raises(CommandError, match="too short"):
        call_command(
            "create_user", "--role", "auditor", "--username", "weak", "--password-from-env"
        )
    monkeypatch.setenv("RINGADMIN_USER_PASSWORD", "a-Strong-passphrase-42")
    call_command("create_user", "--role", "auditor", "--username", "dup", "--password-from-env")
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_user", "--role", "auditor", "--username", "dup", "--password-from-env")


def test_create_user_without_terminal_or_env_says_how(monkeypatch) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(CommandError, match="--password-from-env"):
        call_command("create_user", "--role", "auditor", "--username", "nope")


@pytest.mark.parametrize(
    ("role", "target"),
    [("admin", "/admin/"), ("supervisor", "/calls/"), ("auditor", "/audit/")],
)
def test_home_sends_each_role_to_its_place(client, make_user, role: str, target: str) -> None:
    client.force_login(make_user(role))
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == target
    assert client.get(target).status_code == 200


def test_home_tells_a_user_without_role_what_to_do(client, django_user_model) -> None:
    client.force_login(django_user_model.objects.create_user("norole", password="x"))
    response = client.get("/")
    assert response.status_code == 403
    assert b"Ask an administrator" in response.content


def test_anonymous_home_goes_to_login(client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.parametrize(("role", "status"), [("supervisor", 403), ("auditor", 200)])
def test_audit_page_only_for_auditors(client, make_user, role: str, status: int) -> None:
    client.force_login(make_user(role))
    assert client.get("/audit/").status_code == status


@pytest.mark.parametrize(("role", "status"), [("supervisor", 200), ("auditor", 200)])
def test_calls_page_for_roles_with_view_call(client, make_user, role: str, status: int) -> None:
    client.force_login(make_user(role))
    assert client.get("/calls/").status_code == status


def test_role_from_name_accepts_singular_and_plural() -> None:
    assert Role.from_name("supervisor") is Role.SUPERVISOR
    assert Role.from_name("Auditors") is Role.AUDITOR
