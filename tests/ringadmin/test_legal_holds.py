"""Legal holds: set and released only with reasons, audited, by auditors and admins; the
selectors say which calls a hold covers; the call page shows it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from ringadmin.compliance.legal_holds import (
    LegalHoldInvalid,
    call_is_held,
    calls_held,
    legal_hold_covers,
    legal_hold_release,
    legal_hold_set,
)
from ringadmin.compliance.models import AuditEvent, LegalHold
from tests.factories import CallFactory

pytestmark = pytest.mark.django_db


def test_set_and_release_are_audited_with_who_and_why(make_user) -> None:
    auditor = make_user("auditor")
    call = CallFactory()
    hold = legal_hold_set(actor=auditor, reason="litigation 42", call=call)
    assert call_is_held(call)
    set_event = AuditEvent.objects.get(event_type="legal_hold.set")
    assert (set_event.actor, set_event.call_id, set_event.target_id) == (
        auditor,
        call.pk,
        str(hold.pk),
    )
    assert set_event.data["reason"] == "litigation 42"

    legal_hold_release(hold=hold, actor=auditor, reason="settled")
    hold.refresh_from_db()
    assert (hold.released_by, hold.release_reason) == (auditor, "settled")
    assert hold.released_at is not None
    assert not call_is_held(call)
    released = AuditEvent.objects.get(event_type="legal_hold.released")
    assert released.data == {"reason": "settled"}
    with pytest.raises(LegalHoldInvalid, match="already released"):
        legal_hold_release(hold=hold, actor=auditor, reason="again")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reason": " "}, "needs a reason"),
        ({"reason": "x"}, "at least one criterion"),
        ({"reason": "x", "product_type": "Manual"}, "Queue or Campaign"),
        ({"reason": "x", "phone": "1" * 65}, "at most 64"),
        ({"reason": "x", "agent_id": "a\nb"}, "printable"),
    ],
)
def test_malformed_holds_are_refused_and_nothing_recorded(kwargs, message) -> None:
    with pytest.raises(LegalHoldInvalid, match=message):
        legal_hold_set(actor=None, **kwargs)
    assert not LegalHold.objects.exists()
    assert not AuditEvent.objects.filter(event_type="legal_hold.set").exists()


def test_filter_hold_selects_the_same_calls_in_sql_and_in_python() -> None:
    now = timezone.now()
    calls = [
        CallFactory(agent_id="7", product_type="Campaign", product_id="55", started_at=now),
        CallFactory(agent_id="7", product_type="Queue", product_id="55", started_at=now),
        CallFactory(agent_id="8", product_type="Campaign", product_id="55", started_at=now),
        CallFactory(
            agent_id="7",
            product_type="Campaign",
            product_id="55",
            started_at=now - timedelta(days=3),
        ),
    ]
    hold = legal_hold_set(
        actor=None,
        reason="dispute",
        agent_id="7",
        product_type="campaign",
        product_id="55",
        started_from=now - timedelta(days=1),
    )
    assert hold.product_type == "Campaign"
    assert list(calls_held().values_list("pk", flat=True)) == [calls[0].pk]
    assert [legal_hold_covers(hold, call) for call in calls] == [True, False, False, False]


def test_auditor_places_and_releases_a_hold_on_the_page(client, make_user) -> None:
    auditor = make_user("auditor")
    client.force_login(auditor)
    call = CallFactory()
    response = client.post("/holds/", {"reason": "subpoena 7", "call": str(call.pk)})
    assert response.status_code == 302
    hold = LegalHold.objects.get()
    assert (hold.call, hold.set_by) == (call, auditor)
    page = client.get("/holds/").content.decode()
    assert "subpoena 7" in page

    assert client.post(f"/holds/{hold.pk}/release", {"reason": ""}).status_code == 400
    assert client.post(f"/holds/{hold.pk}/release", {"reason": "done"}).status_code == 302
    hold.refresh_from_db()
    assert hold.released_by == auditor
    assert AuditEvent.objects.filter(event_type="legal_hold.released").count() == 1


def test_bad_hold_input_is_a_400_that_records_nothing(client, make_user) -> None:
    client.force_login(make_user("admin"))
    for data in (
        {"reason": "x"},
        {"reason": "x", "call": "99999999"},
        {"reason": "x", "started_from": "not a date"},
        {"reason": "x", "phone": "1", "started_from": "2026-01-02", "started_until": "2026-01-01"},
    ):
        assert client.post("/holds/", data).status_code == 400, data
    assert not LegalHold.objects.exists()


def test_supervisors_may_not_place_holds(client, make_user) -> None:
    client.force_login(make_user("supervisor"))
    assert client.get("/holds/").status_code == 403
    assert client.post("/holds/", {"reason": "x", "phone": "123"}).status_code == 403
    assert not LegalHold.objects.exists()


def test_call_page_shows_the_hold(client, make_user) -> None:
    auditor = make_user("auditor")
    call = CallFactory()
    legal_hold_set(actor=auditor, reason="regulator inquiry", phone=call.ani)
    client.force_login(auditor)
    page = client.get(f"/calls/{call.pk}/").content.decode()
    assert "Legal hold" in page
    assert "regulator inquiry" in page


def test_admin_sets_a_hold_through_the_service(client, make_user) -> None:
    admin_user = make_user("admin")
    client.force_login(admin_user)
    response = client.post(
        "/admin/compliance/legalhold/add/", {"reason": "audit", "phone": "5550100"}
    )
    assert response.status_code == 302
    hold = LegalHold.objects.get()
    assert hold.set_by == admin_user
    assert AuditEvent.objects.filter(event_type="legal_hold.set", target_id=str(hold.pk)).exists()
    response = client.post(f"/admin/compliance/legalhold/{hold.pk}/change/", {"release_reason": ""})
    assert response.status_code == 200  # the form says a reason is needed
    hold.refresh_from_db()
    assert hold.released_at is None
