"""Sign-in and sign-out go to the audit trail; Django only reports them through signals."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

from ringadmin.compliance.audit import audit_record
from ringadmin.compliance.models import AuditEventType
from ringadmin.storable import storable_text

USERNAME_MAX = 150  # the username field's length: a longer attempt is cut, marked with "…"


def _on_login(sender, request, user, **kwargs) -> None:
    audit_record(event_type=AuditEventType.LOGIN, actor=user, request=request)


def _on_logout(sender, request, user, **kwargs) -> None:
    if user is not None:
        audit_record(event_type=AuditEventType.LOGOUT, actor=user, request=request)


def _on_login_failed(sender, credentials, request=None, **kwargs) -> None:
    """Who tried, from where: the attempted username (any text a stranger typed, made
    storable and bounded), and no actor, since nobody is signed in."""
    attempted = credentials.get("username", "")
    audit_record(
        event_type=AuditEventType.LOGIN_FAILED,
        data={"username": storable_text(str(attempted), USERNAME_MAX)},
        request=request,
        nobody_label="",
    )


def connect() -> None:
    user_logged_in.connect(_on_login, dispatch_uid="ringadmin.audit.login")
    user_logged_out.connect(_on_logout, dispatch_uid="ringadmin.audit.logout")
    user_login_failed.connect(_on_login_failed, dispatch_uid="ringadmin.audit.login_failed")
