"""Reads of the audit trail, scoped by role."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.db.models import QuerySet

from ringadmin.compliance.models import AuditEvent


def audit_events_visible_to(*, user: AbstractUser | AnonymousUser) -> QuerySet[AuditEvent]:
    if not user.is_authenticated:
        return AuditEvent.objects.none()
    if not user.has_perm("compliance.view_auditevent"):
        return AuditEvent.objects.none()
    return AuditEvent.objects.select_related("actor").order_by("-sequence")


def audit_events_exportable_by(*, user: AbstractUser | AnonymousUser) -> QuerySet[AuditEvent]:
    if not user.has_perm("compliance.export_auditevent"):
        return AuditEvent.objects.none()
    return audit_events_visible_to(user=user).order_by("sequence")
