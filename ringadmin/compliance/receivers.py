"""Sign-in and sign-out go to the audit trail; Django only reports them through signals."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

from ringadmin.compliance.audit import audit_record
from ringadmin.compliance.models import AuditEventType


def _client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


def _on_login(sender, request, user, **kwargs) -> None:
    audit_record(event_type=AuditEventType.LOGIN, actor=user, ip_address=_client_ip(request))


def _on_logout(sender, request, user, **kwargs) -> None:
    if user is not None:
        audit_record(event_type=AuditEventType.LOGOUT, actor=user, ip_address=_client_ip(request))


def _on_login_failed(sender, credentials, request=None, **kwargs) -> None:
    audit_record(
        event_type=AuditEventType.LOGIN_FAILED,
        data={"username": str(credentials.get("username", ""))[:150]},
        ip_address=_client_ip(request),
    )


def connect() -> None:
    user_logged_in.connect(_on_login, dispatch_uid="ringadmin.audit.login")
    user_logged_out.connect(_on_logout, dispatch_uid="ringadmin.audit.logout")
    user_login_failed.connect(_on_login_failed, dispatch_uid="ringadmin.audit.login_failed")
