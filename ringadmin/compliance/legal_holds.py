"""Legal holds: setting and releasing them (audited), and which calls they keep.

Retention and data-subject erasure ask :func:`calls_held` / :func:`call_is_held` before they
remove anything, so a hold is honoured by every path that deletes call content.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from ringadmin.calls.models import Call
from ringadmin.compliance.audit import audit_record
from ringadmin.compliance.models import AuditEventType, LegalHold

PRODUCT_TYPE_LABELS = {"queue": "Queue", "campaign": "Campaign"}


def acting_user(actor: AbstractBaseUser | AnonymousUser | None) -> User | None:
    """The user to store as who acted: ``None`` for the system or an anonymous request."""
    # A signed-in user is always an instance of AUTH_USER_MODEL (as in the audit service).
    return cast(User, actor) if actor is not None and actor.is_authenticated else None


class LegalHoldInvalid(ValueError):
    """A hold that would match nothing definite (no call and no criterion) or is malformed."""


def legal_hold_matches(hold: LegalHold) -> Q:
    """The calls one hold covers, as a filter on ``Call`` (every set criterion must match)."""
    if hold.call_id is not None:
        return Q(pk=hold.call_id)
    condition = Q()
    if hold.agent_id:
        condition &= Q(agent_id=hold.agent_id)
    if hold.product_type:
        condition &= Q(product_type__iexact=hold.product_type)
    if hold.product_id:
        condition &= Q(product_id=hold.product_id)
    if hold.started_from:
        condition &= Q(started_at__gte=hold.started_from)
    if hold.started_until:
        condition &= Q(started_at__lt=hold.started_until)
    if hold.phone:
        condition &= Q(ani=hold.phone) | Q(dnis=hold.phone)
    if not condition:  # a hold without criteria is refused when set; never match everything
        return Q(pk__in=[])
    return condition


def legal_holds_active() -> QuerySet[LegalHold]:
    return LegalHold.objects.filter(released_at__isnull=True)


def calls_held() -> QuerySet[Call]:
    """Every call at least one active hold covers."""
    condition = Q(pk__in=[])
    for hold in legal_holds_active():
        condition |= legal_hold_matches(hold)
    return Call.objects.filter(condition)


def legal_hold_covers(hold: LegalHold, call: Call) -> bool:
    """:func:`legal_hold_matches` for one loaded call, without a query."""
    if hold.call_id is not None:
        return hold.call_id == call.pk
    checks = [
        not hold.agent_id or call.agent_id == hold.agent_id,
        not hold.product_type or call.product_type.lower() == hold.product_type.lower(),
        not hold.product_id or call.product_id == hold.product_id,
        not hold.started_from or call.started_at >= hold.started_from,
        not hold.started_until or call.started_at < hold.started_until,
        not hold.phone or hold.phone in (call.ani, call.dnis),
    ]
    has_criterion = any(
        (
            hold.agent_id,
            hold.product_type,
            hold.product_id,
            hold.started_from,
            hold.started_until,
            hold.phone,
        )
    )
    return has_criterion and all(checks)


def legal_holds_of_call(call: Call) -> list[LegalHold]:
    """The active holds that cover this call (for the call page), in one query."""
    return [
        hold
        for hold in legal_holds_active().select_related("set_by").order_by("set_at")
        if legal_hold_covers(hold, call)
    ]


def call_is_held(call: Call) -> bool:
    return calls_held().filter(pk=call.pk).exists()


def _criteria_text(value: str, *, name: str, max_length: int = 64) -> str:
    text = (value or "").strip()
    if len(text) > max_length or any(ord(ch) < 32 for ch in text):
        raise LegalHoldInvalid(f"{name} must be at most {max_length} printable characters")
    return text


def legal_hold_build(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    reason: str,
    call: Call | None = None,
    agent_id: str = "",
    product_type: str = "",
    product_id: str = "",
    started_from: datetime | None = None,
    started_until: datetime | None = None,
    phone: str = "",
) -> LegalHold:
    """A validated, unsaved hold; :class:`LegalHoldInvalid` says what is wrong (forms show it)."""
    reason = (reason or "").strip()
    if not reason:
        raise LegalHoldInvalid("a legal hold needs a reason")
    product_type = _criteria_text(product_type, name="product type")
    if product_type:
        label = PRODUCT_TYPE_LABELS.get(product_type.lower())
        if label is None:
            raise LegalHoldInvalid("product type must be Queue or Campaign")
        product_type = label
    hold = LegalHold(
        reason=reason,
        call=call,
        agent_id=_criteria_text(agent_id, name="agent id"),
        product_type=product_type,
        product_id=_criteria_text(product_id, name="product id"),
        started_from=started_from,
        started_until=started_until,
        phone=_criteria_text(phone, name="phone number"),
        set_by=acting_user(actor),
        set_at=timezone.now(),
    )
    if call is None and not any(
        (hold.agent_id, hold.product_type, hold.product_id, started_from, started_until, hold.phone)
    ):
        raise LegalHoldInvalid("a legal hold needs a call or at least one criterion")
    if started_from and started_until and started_from >= started_until:
        raise LegalHoldInvalid("the date range's start must be before its end")
    return hold


@transaction.atomic
def legal_hold_set(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    reason: str,
    call: Call | None = None,
    agent_id: str = "",
    product_type: str = "",
    product_id: str = "",
    started_from: datetime | None = None,
    started_until: datetime | None = None,
    phone: str = "",
    ip_address: str | None = None,
) -> LegalHold:
    """Place a hold on one call or on every call matching the criteria; audited."""
    hold = legal_hold_build(
        actor=actor,
        reason=reason,
        call=call,
        agent_id=agent_id,
        product_type=product_type,
        product_id=product_id,
        started_from=started_from,
        started_until=started_until,
        phone=phone,
    )
    hold.save()
    audit_record(
        event_type=AuditEventType.LEGAL_HOLD_SET,
        actor=actor,
        target=hold,
        call_id=call.pk if call is not None else None,
        ip_address=ip_address,
        data={"reason": hold.reason, "criteria": legal_hold_criteria(hold)},
    )
    return hold


@transaction.atomic
def legal_hold_release(
    *,
    hold: LegalHold,
    actor: AbstractBaseUser | AnonymousUser | None,
    reason: str,
    ip_address: str | None = None,
) -> LegalHold:
    """Release a hold (it stays on record); audited. Releasing twice is refused."""
    reason = reason.strip()
    if not reason:
        raise LegalHoldInvalid("releasing a legal hold needs a reason")
    hold = LegalHold.objects.select_for_update().get(pk=hold.pk)
    if hold.released_at is not None:
        raise LegalHoldInvalid("this legal hold is already released")
    hold.released_at = timezone.now()
    hold.released_by = acting_user(actor)
    hold.release_reason = reason
    hold.save(update_fields=["released_at", "released_by", "release_reason"])
    audit_record(
        event_type=AuditEventType.LEGAL_HOLD_RELEASED,
        actor=actor,
        target=hold,
        call_id=hold.call_id,
        ip_address=ip_address,
        data={"reason": reason},
    )
    return hold


def legal_hold_criteria(hold: LegalHold) -> dict[str, str]:
    """The hold's set criteria, for the audit entry and displays."""
    values = {
        "call": str(hold.call_id or ""),
        "agent_id": hold.agent_id,
        "product_type": hold.product_type,
        "product_id": hold.product_id,
        "started_from": hold.started_from.isoformat() if hold.started_from else "",
        "started_until": hold.started_until.isoformat() if hold.started_until else "",
        "phone": hold.phone,
    }
    return {name: value for name, value in values.items() if value}
