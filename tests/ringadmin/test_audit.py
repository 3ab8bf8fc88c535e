from __future__ import annotations

import csv
import io

import pytest

from ringadmin.compliance.audit import GENESIS_HASH, audit_chain_verify, audit_record
from ringadmin.compliance.models import AuditEvent, AuditEventType
from tests.audit_tampering import tamper

pytestmark = pytest.mark.django_db


def test_entries_chain_and_verify(make_user) -> None:
    user = make_user("auditor")  # user creation itself is audited
    first = AuditEvent.objects.order_by("sequence").first()
    assert first.prev_hash == GENESIS_HASH
    entry = audit_record(event_type=AuditEventType.CALL_VIEWED, actor=user, data={"x": 1})
    assert entry.prev_hash == AuditEvent.objects.get(sequence=entry.sequence - 1).entry_hash
    check = audit_chain_verify()
    assert check.ok
    assert check.checked == AuditEvent.objects.count()


def test_tampering_is_detected() -> None:
    for n in range(3):
        audit_record(event_type=AuditEventType.CALL_VIEWED, data={"n": n})
    middle = AuditEvent.objects.get(sequence=2)
    tamper("UPDATE {table} SET data = %s WHERE id = %s", ['{"n": 99}', middle.pk])
    check = audit_chain_verify()
    assert not check.ok
    assert check.first_bad_sequence == 2


def test_deleted_entry_is_detected() -> None:
    for n in range(3):
        audit_record(event_type=AuditEventType.CALL_VIEWED, data={"n": n})
    tamper("DELETE FROM {table} WHERE sequence = 2")
    assert audit_chain_verify().first_bad_sequence == 2


def test_entries_cannot_be_changed_or_deleted_through_the_orm() -> None:
    entry = audit_record(event_type=AuditEventType.CALL_VIEWED)
    entry.actor_label = "someone else"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.update(actor_label="x")


def test_secrets_in_audit_data_are_redacted() -> None:
    entry = audit_record(
        event_type=AuditEventType.PROFILE_CHANGED,
        data={"secret": "s3cr3t", "fields": {"api_token": "t"}, "url": "wss://a"},
    )
    assert entry.data == {
        "secret": "[redacted]",
        "fields": {"api_token": "[redacted]"},
        "url": "wss://a",
    }


def test_login_and_failed_login_are_audited(client, make_user) -> None:
    make_user("supervisor", username="sue", password="pw-Long-enough-1")
    client.post("/login/", {"username": "sue", "password": "wrong"})
    client.post("/login/", {"username": "sue", "password": "pw-Long-enough-1"})
    types = list(AuditEvent.objects.order_by("sequence").values_list("event_type", flat=True))
    assert types[-2:] == [AuditEventType.LOGIN_FAILED, AuditEventType.LOGIN]


def test_export_is_csv_of_whole_trail_and_is_itself_audited(client, make_user) -> None:
    client.force_login(make_user("auditor"))
    response = client.get("/audit/export.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][0] == "sequence"
    assert rows[-2][2] == AuditEventType.AUDIT_EXPORTED
    assert rows[-1][0] == "#chain_proof"
    assert len(rows) - 2 == AuditEvent.objects.count()


def test_supervisor_cannot_export(client, make_user) -> None:
    client.force_login(make_user("supervisor"))
    assert client.get("/audit/export.csv").status_code == 403
