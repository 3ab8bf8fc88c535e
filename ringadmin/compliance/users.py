"""Creating users with a role: the one place that decides what a role means for an account."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, AnonymousUser, Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from ringadmin.compliance.audit import audit_record
from ringadmin.compliance.models import AuditEventType
from ringadmin.compliance.roles import Role


def user_create(
    *,
    username: str,
    email: str,
    password: str,
    role: Role,
    created_by: AbstractUser | None = None,
    validate: bool = True,
) -> AbstractUser:
    """Create an active user in one role. Admins are staff so they can use Django admin."""
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        raise ValidationError(f"a user named {username!r} already exists")
    candidate = user_model(username=username, email=email)
    if validate:
        validate_password(password, user=candidate)
    with transaction.atomic():
        candidate.is_staff = role is Role.ADMIN
        candidate.set_password(password)
        candidate.full_clean(exclude=["password"])
        candidate.save()
        candidate.groups.add(Group.objects.get(name=role.value))
        audit_record(
            event_type=AuditEventType.USER_CREATED,
            actor=created_by,
            target=candidate,
            data={"username": username, "role": role.value},
        )
    return candidate


def role_of(*, user: AbstractUser | AnonymousUser) -> Role | None:
    """The user's role for routing: superusers count as admins; the first matching group wins."""
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return Role.ADMIN
    names = set(user.groups.values_list("name", flat=True))
    for role in (Role.ADMIN, Role.SUPERVISOR, Role.AUDITOR):
        if role.value in names:
            return role
    return None
