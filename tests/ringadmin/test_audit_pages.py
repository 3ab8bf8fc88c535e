"""The auditors' page and exports: filters, keyset pages, CSV and JSON Lines of the filtered set."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime

import pytest
from django.http import QueryDict
from hypothesis import given, settings
from hypothesis import strategies as st

from ringadmin.compliance.audit import audit_record
from ringadmin.compliance.audit_search import AuditQuery
from ringadmin.compliance.models import AuditEvent, AuditEventType
from tests.factories import CallFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def auditor(make_user):
    return make_user("auditor", username="aud")


@pytest.fixture
def trail(make_user, auditor):
    """A few entries of different types, users and calls, on two days."""
    sue = make_user("supervisor", username="sue")
    call = CallFactory()
    entries = {
        "viewed": audit_record(event_type=AuditEventType.CALL_VIEWED, actor=sue, call_id=call.pk),
        "played": audit_record(
            event_type=AuditEventType.RECORDING_PLAYED,
            actor=sue,
            call_id=call.pk,
            data={"range": "bytes=0-", "note": 'quote " and, comma'},
        ),
        "other": audit_record(event_type=AuditEventType.CALL_VIEWED, actor=auditor),
    }
    return {"call": call, **entries}


def _body(response) -> str:
    return b"".join(response.streaming_content).decode()


def test_the_filters_narrow_the_page(client, auditor, trail) -> None:
    client.force_login(auditor)
    call = trail["call"]
    page = client.get("/audit/", {"actor": "sue", "event_type": "call.viewed"}).context["page"]
    assert [e.pk for e in page.events] == [trail["viewed"].pk]
    page = client.get("/audit/", {"call": call.pk}).context["page"]
    assert [e.pk for e in page.events] == [trail["played"].pk, trail["viewed"].pk]
    today = datetime.now(UTC).date().isoformat()
    assert len(client.get("/audit/", {"from": today, "to": today}).context["page"].events) > 3
    assert client.get("/audit/", {"to": "2000-01-01"}).context["page"].events == []


def test_bad_filters_are_reported_and_ignored(client, auditor, trail) -> None:
    client.force_login(auditor)
    response = client.get("/audit/", {"call": "12abc", "event_type": "drop table", "actor": "sue"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Call id: is not a whole number — this filter was ignored." in html
    assert "Event: “drop table” is not one of the choices — this filter was ignored." in html
    # the valid filter still applies
    assert {e.actor_label for e in response.context["page"].events} == {"sue"}


@settings(max_examples=200, deadline=None)
@given(
    pairs=st.lists(
        st.tuples(
            st.sampled_from(["from", "to", "actor", "event_type", "call", "before", "after", "x"]),
            st.one_of(
                st.text(max_size=60), st.sampled_from(["1", "0", "-5", "9" * 30, "call.viewed"])
            ),
        ),
        max_size=6,
    )
)
def test_any_query_string_parses_to_a_valid_audit_query(pairs) -> None:
    params = QueryDict(mutable=True)
    for name, value in pairs:
        params.appendlist(name, value)
    query, errors = AuditQuery.from_params(params)
    assert all(isinstance(e, str) and e for e in errors)
    assert query.event_type in ("", *AuditEventType.values)
    assert query.call_id is None or 1 <= query.call_id < 2**63
    assert not (query.before is not None and query.after is not None)
    assert AuditQuery.from_params(QueryDict(query.querystring))[0] == AuditQuery(
        date_from=query.date_from,
        date_to=query.date_to,
        actor=query.actor,
        event_type=query.event_type,
        call_id=query.call_id,
    )


def test_pages_go_older_and_newer_by_sequence(client, auditor, monkeypatch) -> None:
    monkeypatch.setattr("ringadmin.compliance.audit_search.PAGE_SIZE", 4)
    for n in range(9):
        audit_record(event_type=AuditEventType.CALL_VIEWED, data={"n": n})
    client.force_login(auditor)
    all_sequences = sorted(AuditEvent.objects.values_list("sequence", flat=True), reverse=True)

    seen, params = [], {"event_type": "call.viewed"}
    viewed = [
        s
        for s in all_sequences
        if AuditEvent.objects.get(sequence=s).event_type == AuditEventType.CALL_VIEWED
    ]
    pages = []
    while True:
        response = client.get("/audit/", params)
        page = response.context["page"]
        pages.append([e.sequence for e in page.events])
        seen += pages[-1]
        if page.older is None:
            break
        assert f"before={page.older}" in response.content.decode()
        params = {"event_type": "call.viewed", "before": page.older}
    assert seen == viewed
    assert [len(p) for p in pages] == [4, 4, 1]
    # back to the newest from the last page
    response = client.get("/audit/", {"event_type": "call.viewed", "after": page.newer})
    assert [e.sequence for e in response.context["page"].events] == pages[1]


def test_the_csv_export_is_the_filtered_set_with_data_as_json(client, auditor, trail) -> None:
    client.force_login(auditor)
    response = client.get("/audit/export.csv", {"call": trail["call"].pk})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    *rows, trailer = list(csv.DictReader(io.StringIO(_body(response))))
    assert trailer["sequence"] == "#chain_proof"
    assert [int(r["sequence"]) for r in rows] == [
        trail["viewed"].sequence,
        trail["played"].sequence,
    ]
    # data is JSON (it was Python's repr before: single quotes, not parseable as JSON)
    assert json.loads(rows[1]["data"]) == {"range": "bytes=0-", "note": 'quote " and, comma'}
    assert json.loads(rows[0]["data"]) == {}
    assert rows[0]["call_id"] == str(trail["call"].pk)


def test_the_jsonl_export_is_one_json_object_per_filtered_entry(client, auditor, trail) -> None:
    client.force_login(auditor)
    response = client.get("/audit/export.jsonl", {"actor": "sue"})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/jsonl; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="audit-trail-\d{8}T\d{6}Z\.jsonl"', response["Content-Disposition"]
    )
    body = _body(response)
    assert body.endswith("\n")
    *records, trailer = [json.loads(line) for line in body.splitlines()]
    assert set(trailer) == {"chain_proof"}
    played = trail["played"]
    assert [r["sequence"] for r in records] == [trail["viewed"].sequence, played.sequence]
    assert {r["actor_label"] for r in records} == {"sue"}
    assert records[1] == {
        "sequence": played.sequence,
        "occurred_at": played.occurred_at.isoformat(),
        "event_type": "recording.played",
        "actor_label": "sue",
        "target_type": "",
        "target_id": "",
        "call_id": trail["call"].pk,
        "ip_address": None,
        "user_agent": "",
        "data": {"range": "bytes=0-", "note": 'quote " and, comma'},
        "prev_hash": played.prev_hash,
        "entry_hash": played.entry_hash,
    }


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_each_export_is_audited_with_its_filters(client, auditor, trail, fmt: str) -> None:
    client.force_login(auditor)
    response = client.get(f"/audit/export.{fmt}", {"event_type": "call.viewed", "bogus": "1"})
    _body(response)
    entry = AuditEvent.objects.order_by("-sequence").first()
    assert entry.event_type == AuditEventType.AUDIT_EXPORTED
    assert entry.actor_label == "aud"
    assert entry.data == {"format": fmt, "filters": {"event_type": "call.viewed"}}


def test_the_page_links_the_exports_with_its_filters(client, auditor, trail) -> None:
    client.force_login(auditor)
    html = client.get("/audit/", {"actor": "sue", "event_type": "call.viewed"}).content.decode()
    assert 'href="/audit/export.jsonl?actor=sue&amp;event_type=call.viewed"' in html
    assert 'href="/audit/export.csv?actor=sue&amp;event_type=call.viewed"' in html
