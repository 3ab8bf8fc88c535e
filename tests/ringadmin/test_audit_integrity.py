"""The audit trail, complete: who, from where, with what client; tampering named by
``audit_verify``; checkpoints outside the database; the append-only trigger; incremental
verification; the chain proof of exports."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from ringadmin.compliance import receivers
from ringadmin.compliance.audit import (
    audit_chain_verify,
    audit_chain_verify_incremental,
    audit_changes,
    audit_record,
    request_client,
)
from ringadmin.compliance.checkpoints import (
    checkpoint_latest,
    checkpoint_path,
    checkpoint_write,
    checkpoints_compare,
)
from ringadmin.compliance.models import (
    USER_AGENT_MAX,
    AuditEvent,
    AuditEventType,
    AuditVerification,
)
from ringadmin.compliance.tasks import audit_checkpoint_task
from tests.audit_tampering import tamper
from tests.factories import make_streaming_profile

pytestmark = pytest.mark.django_db


def trail(n: int) -> list[AuditEvent]:
    return [audit_record(event_type=AuditEventType.CALL_VIEWED, data={"n": i}) for i in range(n)]


def verify(*args: str) -> tuple[bool, str]:
    """Run ``audit_verify``: (passed, what it wrote)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("audit_verify", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return False, err.getvalue() + str(exc)
    return True, out.getvalue()


# --- who, from where, with what ----------------------------------------------------------------


def test_a_failed_sign_in_records_the_attempted_name_and_address_without_an_actor(client) -> None:
    client.post(
        "/login/",
        {"username": "mallory", "password": "guess"},
        REMOTE_ADDR="198.51.100.7",
        HTTP_USER_AGENT="Mozilla/5.0 (X11)",
    )
    entry = AuditEvent.objects.get(event_type=AuditEventType.LOGIN_FAILED)
    assert entry.actor_id is None
    assert entry.actor_label == ""  # not "system": nobody was signed in
    assert entry.data == {"username": "mallory"}
    assert (entry.ip_address, entry.user_agent) == ("198.51.100.7", "Mozilla/5.0 (X11)")
    assert audit_chain_verify().ok


def test_a_hostile_attempted_username_is_stored_bounded_and_storable() -> None:
    # The sign-in form refuses NUL itself; other callers of authenticate() may not.
    receivers._on_login_failed(None, {"username": "a\x00b" + "x" * 5000}, request=None)
    entry = AuditEvent.objects.get(event_type=AuditEventType.LOGIN_FAILED)
    name = entry.data["username"]
    assert len(name) == 150
    assert name.endswith("…")
    assert "\x00" not in name
    assert name.startswith("a\ufffdb")
    assert (entry.actor_label, entry.ip_address) == ("", None)


def test_sign_in_and_exports_record_the_user_agent(client, make_user) -> None:
    make_user("auditor", username="ann", password="pw-Long-enough-1")
    client.post(
        "/login/",
        {"username": "ann", "password": "pw-Long-enough-1"},
        HTTP_USER_AGENT="Firefox/140",
    )
    b"".join(client.get("/audit/export.csv", HTTP_USER_AGENT="curl/8.5").streaming_content)
    login = AuditEvent.objects.get(event_type=AuditEventType.LOGIN)
    export = AuditEvent.objects.get(event_type=AuditEventType.AUDIT_EXPORTED)
    assert (login.actor_label, login.user_agent) == ("ann", "Firefox/140")
    assert (export.actor_label, export.user_agent) == ("ann", "curl/8.5")


def test_a_long_user_agent_is_cut_to_the_field_length(client) -> None:
    client.post("/login/", {"username": "x", "password": "y"}, HTTP_USER_AGENT="U" * 9000)
    entry = AuditEvent.objects.get(event_type=AuditEventType.LOGIN_FAILED)
    assert len(entry.user_agent) == USER_AGENT_MAX
    assert entry.user_agent.endswith("…")
    assert audit_chain_verify().ok  # the stored value is the hashed value


class _Request:
    def __init__(self, meta: dict) -> None:
        self.META = meta


@given(user_agent=st.text(max_size=2000), address=st.none() | st.ip_addresses().map(str))
def test_request_client_makes_any_user_agent_storable_and_bounded(user_agent, address) -> None:
    meta = {"HTTP_USER_AGENT": user_agent}
    if address is not None:
        meta["REMOTE_ADDR"] = address
    ip, stored = request_client(_Request(meta))
    assert ip == address
    assert len(stored) <= USER_AGENT_MAX
    assert "\x00" not in stored
    assert (
        stored == user_agent
        or len(user_agent) > USER_AGENT_MAX
        or "\x00" in user_agent
        or (any("\ud800" <= c <= "\udfff" for c in user_agent))
    )


def test_changes_record_old_and_new_values_with_secrets_masked() -> None:
    before = {"notes": "", "secret": "old-s3cr3t", "api_token": "", "enabled": True}
    after = {"notes": "moved", "secret": "new-s3cr3t", "api_token": "t0k", "enabled": True}
    changes = audit_changes(before, after, before)
    assert changes == {
        "api_token": {"old": "", "new": "[redacted]"},
        "notes": {"old": "", "new": "moved"},
        "secret": {"old": "[redacted]", "new": "[redacted]"},
    }
    entry = audit_record(event_type=AuditEventType.PROFILE_CHANGED, data={"changes": changes})
    stored = json.dumps(entry.data)
    assert "s3cr3t" not in stored
    assert "t0k" not in stored
    assert entry.data["changes"]["notes"] == {"old": "", "new": "moved"}


# --- audit_verify names what was done ----------------------------------------------------------


def test_audit_verify_passes_an_intact_trail() -> None:
    trail(4)
    passed, output = verify("--full")
    assert passed, output
    assert "4 entries verified (whole chain), through entry #4" in output


def test_audit_verify_names_an_edited_entry() -> None:
    trail(5)
    tamper("UPDATE {table} SET data = %s WHERE sequence = 3", ['{"n": 99}'])
    passed, output = verify("--full")
    assert not passed
    assert "entry #3 does not match its hash: it was edited" in output
    assert audit_chain_verify().problem == "edited"


def test_audit_verify_names_a_deleted_entry() -> None:
    trail(5)
    tamper("DELETE FROM {table} WHERE sequence = 3")
    passed, output = verify("--full")
    assert not passed
    assert "entry #3 is missing: it was deleted" in output


def test_audit_verify_names_a_deleted_entry_whose_successors_were_renumbered() -> None:
    trail(5)
    tamper("DELETE FROM {table} WHERE sequence = 3")
    tamper("UPDATE {table} SET sequence = -sequence + 1 WHERE sequence > 3")
    tamper("UPDATE {table} SET sequence = -sequence WHERE sequence < 0")
    check = audit_chain_verify()
    assert (check.problem, check.first_bad_sequence) == ("deleted", 3)
    assert "original entry #3 was deleted" in verify("--full")[1]


def test_audit_verify_names_an_inserted_entry() -> None:
    events = trail(5)
    # Make room at #3 (the later entries move up one) and put a forged entry there.
    tamper("UPDATE {table} SET sequence = -sequence - 1 WHERE sequence >= 3")
    tamper("UPDATE {table} SET sequence = -sequence WHERE sequence < 0")
    forged = events[2]
    tamper(
        "INSERT INTO {table} (sequence, occurred_at, event_type, actor_label, target_type, "
        "target_id, ip_address, user_agent, data, prev_hash, entry_hash) "
        "VALUES (3, %s, 'call.viewed', 'nobody', '', '', NULL, '', '{{}}', %s, %s)",
        [forged.occurred_at, events[1].entry_hash, "f" * 64],
    )
    check = audit_chain_verify()
    assert (check.problem, check.first_bad_sequence) == ("inserted", 3)
    passed, output = verify("--full")
    assert not passed
    assert "entry #3 is not part of the chain: an entry was inserted" in output


def test_audit_verify_names_reordered_entries() -> None:
    trail(5)
    tamper("UPDATE {table} SET sequence = 0 WHERE sequence = 3")
    tamper("UPDATE {table} SET sequence = 3 WHERE sequence = 4")
    tamper("UPDATE {table} SET sequence = 4 WHERE sequence = 0")
    check = audit_chain_verify()
    assert (check.problem, check.first_bad_sequence) == ("reordered", 3)
    passed, output = verify("--full")
    assert not passed
    assert "entry #3 was written as entry #4: entries reordered" in output


# --- checkpoints outside the database ----------------------------------------------------------


def test_a_checkpoint_is_one_signed_json_line_appended_to_the_file() -> None:
    trail(3)
    first = checkpoint_write()
    trail(1)
    second = checkpoint_write()
    lines = checkpoint_path().read_text().splitlines()
    assert [json.loads(line) for line in lines] == [first, second]
    assert (second["sequence"], second["count"]) == (4, 4)
    assert second["entry_hash"] == AuditEvent.objects.get(sequence=4).entry_hash
    assert checkpoint_latest() == {**second, "line": 2}


def test_a_tail_deleted_after_a_checkpoint_is_detected() -> None:
    trail(6)
    checkpoint_write()
    tamper("DELETE FROM {table} WHERE sequence > 4")
    assert audit_chain_verify().ok  # the chain alone cannot tell: its last entries are gone
    [problem] = checkpoints_compare()
    assert problem.problem == "truncated"
    passed, output = verify("--full")
    assert not passed
    assert "entry #6, pinned by checkpoint line 1" in output


def test_a_chain_rewritten_and_resigned_after_a_checkpoint_is_detected() -> None:
    trail(4)
    checkpoint_write()
    # Someone with the chain's key deletes the last entries and writes others in their place:
    # a valid chain, but not the one the checkpoint pinned.
    tamper("DELETE FROM {table} WHERE sequence > 2")
    trail(2)
    assert audit_chain_verify().ok
    [problem] = checkpoints_compare()
    assert problem.problem == "resigned"
    assert not verify("--full")[0]


def test_a_forged_checkpoint_line_is_reported() -> None:
    trail(2)
    checkpoint_write()
    with checkpoint_path().open("a") as out:
        out.write(json.dumps({"sequence": 9, "entry_hash": "0", "count": 9, "at": "x"}) + "\n")
    [problem] = checkpoints_compare()
    assert (problem.line, problem.problem) == (2, "unsigned")
    assert not verify()[0]


def test_the_beat_task_verifies_and_writes_a_checkpoint() -> None:
    trail(3)
    audit_checkpoint_task()
    assert checkpoint_latest()["sequence"] == 3
    assert AuditVerification.objects.get().sequence == 3


# --- incremental verification ------------------------------------------------------------------


def test_the_audit_page_verifies_only_the_entries_written_since(client, make_user) -> None:
    client.force_login(make_user("auditor"))
    trail(300)
    first = client.get("/audit/").context["chain"]
    assert first.ok
    assert first.checked >= 300
    trail(2)
    with CaptureQueriesContext(connection) as queries:
        second = client.get("/audit/").context["chain"]
    # Only the two new entries are read (the page does not audit its own viewing).
    assert second.ok
    assert second.checked == 2
    assert second.verified_through == AuditEvent.objects.order_by("-sequence").first().sequence
    # the same whatever the trail's length (the rest is the page: session, second factor,
    # permissions, the session's idle expiry)
    assert len(queries) <= 20


def test_incremental_verification_rows_read_do_not_grow_with_the_trail() -> None:
    trail(500)
    assert audit_chain_verify_incremental().checked == 500
    trail(3)
    with CaptureQueriesContext(connection) as queries:
        check = audit_chain_verify_incremental()
    assert (check.ok, check.checked, check.verified_through) == (True, 3, 503)
    reads = [q["sql"] for q in queries.captured_queries if "compliance_auditevent" in q["sql"]]
    assert len(reads) <= 3
    assert all("LIMIT" in sql or '"sequence" > 500' in sql for sql in reads)


def test_a_forged_verification_mark_is_ignored_and_the_chain_verified_from_the_start() -> None:
    trail(4)
    tamper("UPDATE {table} SET data = %s WHERE sequence = 2", ['{"n": 99}'])
    AuditVerification.objects.create(
        sequence=4, entry_hash="x", verified_at="2026-01-01T00:00Z", signature="0" * 64
    )
    check = audit_chain_verify_incremental()
    assert (check.ok, check.first_bad_sequence) == (False, 2)


def test_an_entry_edited_at_the_verification_mark_sends_verification_back_to_the_start() -> None:
    trail(4)
    audit_chain_verify_incremental()
    tamper("UPDATE {table} SET data = %s WHERE sequence = 4", ['{"n": 99}'])
    check = audit_chain_verify_incremental()
    assert (check.ok, check.first_bad_sequence, check.problem) == (False, 4, "edited")


# --- exports carry their chain proof -----------------------------------------------------------


def test_a_date_range_export_ends_with_its_chain_proof_and_the_latest_checkpoint(
    client, make_user
) -> None:
    client.force_login(make_user("auditor", username="aud"))
    events = trail(5)
    response = client.get("/audit/export.jsonl", {"event_type": "call.viewed"})
    *records, trailer = [
        json.loads(line) for line in b"".join(response.streaming_content).splitlines()
    ]
    proof = trailer["chain_proof"]
    first = AuditEvent.objects.get(sequence=records[0]["sequence"])
    predecessor = AuditEvent.objects.get(sequence=first.sequence - 1)
    assert records[0]["sequence"] == events[0].sequence
    assert proof["predecessor_sequence"] == predecessor.sequence
    assert proof["predecessor_hash"] == predecessor.entry_hash == records[0]["prev_hash"]
    assert (proof["last_sequence"], proof["last_entry_hash"]) == (
        records[-1]["sequence"],
        records[-1]["entry_hash"],
    )
    head = AuditEvent.objects.order_by("-sequence").first()
    assert proof["checkpoint"]["sequence"] == head.sequence  # the export's own entry included
    assert proof["checkpoint"] == json.loads(checkpoint_path().read_text().splitlines()[-1])


def test_the_csv_export_ends_with_a_chain_proof_row(client, make_user) -> None:
    client.force_login(make_user("auditor"))
    rows = list(
        csv.reader(
            io.StringIO(b"".join(client.get("/audit/export.csv").streaming_content).decode())
        )
    )
    assert rows[-1][0] == "#chain_proof"
    proof = json.loads(rows[-1][1])
    assert proof["first_sequence"] == 1
    assert proof["predecessor_hash"] == "0" * 64
    assert proof["checkpoint"]["hmac"]


# --- the append-only trigger (PostgreSQL) ------------------------------------------------------


def refused(sql: str) -> bool:
    """Did the database refuse ``sql`` as a change to the append-only trail?"""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    except DatabaseError as exc:
        return "the audit trail is append-only" in str(exc)
    return False


@pytest.mark.needs_postgres
@pytest.mark.django_db(transaction=True)  # TRUNCATE needs no pending deferred checks
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE compliance_auditevent SET actor_label = 'x'",
        "DELETE FROM compliance_auditevent",
        "TRUNCATE compliance_auditevent",
        "TRUNCATE compliance_auditevent CASCADE",
    ],
)
def test_the_database_refuses_to_change_the_audit_table(sql: str) -> None:
    trail(2)
    assert refused(sql)
    assert AuditEvent.objects.count() == 2
    assert audit_chain_verify().ok


@pytest.mark.needs_postgres
@pytest.mark.django_db(transaction=True)
def test_transactional_tests_flush_the_trail_and_the_trigger_stays_armed() -> None:
    """This test's own teardown flushes (TRUNCATE) the table: the flush passes the trigger
    with the maintenance setting, which is off again for everything else."""
    trail(2)
    assert refused("TRUNCATE compliance_auditevent CASCADE")
    connection.ops.execute_sql_flush(["TRUNCATE compliance_auditevent"])
    assert AuditEvent.objects.count() == 0
    trail(1)
    assert refused("DELETE FROM compliance_auditevent")


def test_an_admin_change_made_through_a_service_records_the_client(client, make_user) -> None:
    """Services are given a user, not a request: the middleware supplies the client."""
    profile = make_streaming_profile()
    client.force_login(make_user("admin", username="ada"))
    response = client.post(
        f"/admin/streaming/streamingprofile/{profile.pk}/delete/",
        {"post": "yes"},
        REMOTE_ADDR="192.0.2.44",
        HTTP_USER_AGENT="Safari/18",
    )
    assert response.status_code == 302
    entry = AuditEvent.objects.get(event_type=AuditEventType.PROFILE_DELETED)
    assert (entry.actor_label, entry.ip_address, entry.user_agent) == (
        "ada",
        "192.0.2.44",
        "Safari/18",
    )


def test_work_outside_a_request_records_no_client() -> None:
    entry = audit_record(event_type=AuditEventType.CALL_RECORDING_RECOVERED)
    assert (entry.actor_label, entry.ip_address, entry.user_agent) == ("system", None, "")
