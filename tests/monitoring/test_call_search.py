"""The calls search: parsing, every filter, full-text search, keyset pages, query counts."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitoring.call_search import (
    DEFAULT_SORT,
    SORT_CHOICES,
    CallQuery,
    search_calls,
)
from monitoring.transcript_search import highlight
from ringadmin.calls.models import CallStatus
from tests.monitoring.call_data import add_analysis, add_transcript, make_call

T0 = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def parse(query_string: str) -> tuple[CallQuery, list[str]]:
    return CallQuery.from_params(QueryDict(query_string))


# --- parsing ---------------------------------------------------------------------------------


def test_an_empty_query_filters_nothing() -> None:
    query, errors = parse("")
    assert errors == []
    assert query == CallQuery()
    assert query.sort == DEFAULT_SORT
    assert not query.is_filtered


def test_every_filter_is_read() -> None:
    query, errors = parse(
        "from=2025-03-01&to=2025-03-31&agent=a17&caller=%2B15551234567&dialled=8005550100"
        "&product_type=Campaign&product_id=77&status=completed&recording=yes&transcript=no"
        "&min_overtalk=2.5&min_monologue=30&min_interruptions=3&q=refund+policy&sort=-overtalk"
    )
    assert errors == []
    assert query == CallQuery(
        date_from=date(2025, 3, 1),
        date_to=date(2025, 3, 31),
        agent="a17",
        caller="+15551234567",
        dialled="8005550100",
        product_type="Campaign",
        product_id="77",
        status="completed",
        has_recording=True,
        has_transcript=False,
        min_overtalk=2.5,
        min_monologue=30.0,
        min_interruptions=3,
        text="refund policy",
        sort="-overtalk",
    )
    # and the query string it writes reads back to the same query
    assert parse(query.querystring())[0] == query


@pytest.mark.parametrize(
    ("query_string", "message"),
    [
        ("from=31/01/2025", "From date: use a date like 2025-01-31"),
        ("to=2025-02-30", "To date: use a date like 2025-01-31"),
        ("from=0001-01-01", "From date: the year must be between"),
        ("from=2025-03-02&to=2025-03-01", "Dates: “from” is after “to”"),
        ("status=lost", "Status: “lost” is not one of the choices"),
        ("product_type=Ivr", "Queue or campaign: “Ivr” is not one of the choices"),
        ("recording=maybe", "Recording: choose yes, no or any"),
        ("min_overtalk=-1", "Minimum overtalk: must be between 0 and"),
        ("min_overtalk=nan", "Minimum overtalk: must be between 0 and"),
        ("min_overtalk=1e400", "Minimum overtalk: must be between 0 and"),
        ("min_interruptions=2.5", "Minimum interruptions: is not a whole number"),
        ("agent=" + "a" * 65, "Agent: longer than 64 characters"),
        ("agent=a%00b", "Agent: contains control characters"),
        ("caller=<script>", "Caller: “<script>” is not a valid value"),
        ("sort=-password", "Sort: “-password” is not one of the choices"),
        ("cursor=forged", "Page: the page link is out of date or damaged"),
    ],
)
def test_a_bad_value_is_reported_and_ignored(query_string: str, message: str) -> None:
    query, errors = parse(
        query_string + "&agent=ok" if "agent=" not in query_string else query_string
    )
    assert len(errors) == 1
    assert errors[0].startswith(message)
    assert "ignored" in errors[0] or "first page" in errors[0]
    # the bad filter is left out, the others stay
    assert query.status in ("", *CallStatus.values)
    assert query.sort in SORT_CHOICES
    if "agent=" not in query_string:
        assert query.agent == "ok"


_param_names = st.sampled_from(
    [
        "from",
        "to",
        "agent",
        "caller",
        "dialled",
        "product_type",
        "product_id",
        "status",
        "recording",
        "transcript",
        "min_overtalk",
        "min_monologue",
        "min_interruptions",
        "q",
        "sort",
        "cursor",
        "page",
        "x",
    ]
)
_values = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["2025-01-01", "9999-12-31", "yes", "-started", "1e308", "-0", "NaN", "Queue"]),
)


@settings(max_examples=300, deadline=None)
@given(pairs=st.lists(st.tuples(_param_names, _values), max_size=8))
def test_any_query_string_parses_to_a_valid_query(pairs: list[tuple[str, str]]) -> None:
    params = QueryDict(mutable=True)
    for name, value in pairs:
        params.appendlist(name, value)
    query, errors = CallQuery.from_params(params)
    assert all(isinstance(e, str) and e for e in errors)
    assert query.sort in SORT_CHOICES
    assert query.status in ("", *CallStatus.values)
    assert query.min_overtalk is None or 0 <= query.min_overtalk <= 1_000_000
    if query.date_from and query.date_to:
        assert query.date_from <= query.date_to
    # whatever was read writes back and reads again to the same query
    assert parse(query.querystring())[0] == query


@pytest.mark.django_db
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=st.text(max_size=120))
def test_any_raw_query_string_gives_the_page_not_an_error(client, make_user, raw: str) -> None:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(username="fuzzer").first() or make_user(
        "supervisor", username="fuzzer"
    )
    client.force_login(user)
    response = client.get("/calls/?" + raw)
    assert response.status_code == 200


# --- filters ---------------------------------------------------------------------------------


@pytest.fixture
def supervisor(make_user):
    return make_user("supervisor")


@pytest.fixture
def calls(db):
    """Five calls that differ in every filtered field."""
    a = make_call(
        T0,
        agent_id="a1",
        ani="111",
        dnis="800",
        product_type="Queue",
        product_id="1",
        status=CallStatus.COMPLETED,
        duration_seconds=300,
        recording_path="r/a.wav",
    )
    b = make_call(
        T0 - timedelta(days=1),
        agent_id="a2",
        ani="222",
        dnis="801",
        product_type="Campaign",
        product_id="9",
        status=CallStatus.REJECTED,
    )
    c = make_call(
        T0 - timedelta(days=2),
        agent_id="a1",
        ani="333",
        dnis="800",
        product_type="Queue",
        product_id="2",
        status=CallStatus.LIVE,
        recording_path="r/c.wav",
    )
    d = make_call(
        T0 - timedelta(days=3),
        agent_id="a3",
        ani="111",
        dnis="802",
        product_type="Manual",
        product_id="",
        status=CallStatus.COMPLETED,
        duration_seconds=60,
        recording_path="r/d.wav",
    )
    e = make_call(
        T0 - timedelta(days=10),
        agent_id="a2",
        status=CallStatus.INCOMPLETE,
        product_type="Campaign",
        duration_seconds=10,
    )
    add_analysis(
        a,
        overtalk_seconds=12,
        longest_monologue_seconds=90,
        agent_interruptions=4,
        caller_interruptions=3,
    )
    add_analysis(
        c,
        overtalk_seconds=2,
        longest_monologue_seconds=30,
        agent_interruptions=0,
        caller_interruptions=1,
    )
    add_analysis(
        d,
        overtalk_seconds=7,
        longest_monologue_seconds=45,
        agent_interruptions=2,
        caller_interruptions=2,
    )
    add_transcript(
        a,
        [
            ("agent", 1.0, "Thanks for calling, how can I help?"),
            ("caller", 4.5, "I want a refund for my order."),
            ("agent", 9.0, "Our refund policy allows thirty days."),
        ],
    )
    add_transcript(c, [("caller", 2.0, "My parcel never arrived.")])
    add_transcript(d, [("caller", 3.0, "Refunds take how long?")], status="failed")
    return {"a": a, "b": b, "c": c, "d": d, "e": e}


def _names(page, calls) -> list[str]:
    by_pk = {call.pk: name for name, call in calls.items()}
    return [by_pk[row.call.pk] for row in page.rows]


@pytest.mark.parametrize(
    ("query_string", "expected"),
    [
        ("", ["a", "b", "c", "d", "e"]),
        ("from=2025-03-08", ["a", "b", "c"]),
        ("to=2025-03-08", ["c", "d", "e"]),
        ("from=2025-03-07&to=2025-03-09", ["b", "c", "d"]),
        ("agent=a1", ["a", "c"]),
        ("caller=111", ["a", "d"]),
        ("dialled=800", ["a", "c"]),
        ("product_type=Queue", ["a", "c"]),
        ("product_type=Queue&product_id=2", ["c"]),
        ("status=completed", ["a", "d"]),
        ("recording=yes", ["a", "c", "d"]),
        ("recording=no", ["b", "e"]),
        ("transcript=yes", ["a", "c"]),  # d's transcript failed
        ("transcript=no", ["b", "d", "e"]),
        ("min_overtalk=5", ["a", "d"]),
        ("min_monologue=45", ["a", "d"]),
        ("min_interruptions=4", ["a", "d"]),
        ("min_interruptions=5", ["a"]),
        ("agent=a1&status=live", ["c"]),
        ("sort=started", ["e", "d", "c", "b", "a"]),
        ("sort=-duration", ["a", "d", "e"]),  # only calls with a duration
        ("sort=duration", ["e", "d", "a"]),
        ("sort=agent", ["a", "c", "b", "e", "d"]),  # a1 (id order), a2, a3
        ("sort=-status", ["b", "c", "e", "d", "a"]),
        ("sort=-overtalk", ["a", "d", "c"]),
        ("sort=monologue", ["c", "d", "a"]),
        ("sort=-interruptions", ["a", "d", "c"]),
    ],
)
def test_filters_and_sorts(calls, supervisor, query_string: str, expected: list[str]) -> None:
    query, errors = parse(query_string)
    assert errors == []
    page = search_calls(user=supervisor, query=query)
    assert _names(page, calls) == expected
    assert page.count == len(expected)
    assert not page.count_capped


def test_a_text_search_is_not_counted(calls, supervisor) -> None:
    page = search_calls(user=supervisor, query=parse("q=refund")[0])
    assert len(page.rows) == 2
    assert page.count is None
    assert not page.count_capped


def test_dates_are_days_in_the_current_time_zone(calls, supervisor, settings) -> None:
    """12:00 UTC on 10 March is already 11 March in Auckland (UTC+13 in March)."""
    settings.TIME_ZONE = "Pacific/Auckland"
    page = search_calls(user=supervisor, query=parse("from=2025-03-11")[0])
    assert _names(page, calls) == ["a"]
    page = search_calls(user=supervisor, query=parse("to=2025-03-10")[0])
    assert "a" not in _names(page, calls)


def test_nobody_without_the_permission_finds_anything(calls, make_user) -> None:
    from django.contrib.auth.models import AnonymousUser

    from ringadmin.compliance.roles import Role

    nobody = make_user("supervisor")
    nobody.groups.remove(nobody.groups.get(name=Role.SUPERVISOR.value))
    nobody = type(nobody).objects.get(pk=nobody.pk)  # drop the permission cache
    for user in (AnonymousUser(), nobody):
        page = search_calls(user=user, query=CallQuery())
        assert page.rows == []
        assert page.count == 0


# --- full-text search ------------------------------------------------------------------------


def test_the_search_finds_calls_by_what_was_said_with_stemming(calls, supervisor) -> None:
    assert connection.vendor == "postgresql"  # the suite runs on PostgreSQL: the FTS path
    page = search_calls(user=supervisor, query=parse("q=refunds")[0])
    # "refunds" matches "refund" (English stemming); d's line matches too (any transcript)
    assert _names(page, calls) == ["a", "d"]
    line = page.rows[0].matched_line
    assert line is not None
    assert line.start_seconds == 4.5  # the first matching line of the call
    assert line.speaker == "caller"
    assert str(line.html) == "I want a <mark>refund</mark> for my order."
    assert line.anchor_seconds == 4


def test_the_search_needs_every_word_in_one_line(calls, supervisor) -> None:
    page = search_calls(user=supervisor, query=parse("q=refund+policy")[0])
    assert _names(page, calls) == ["a"]
    assert str(page.rows[0].matched_line.html) == (
        "Our <mark>refund</mark> <mark>policy</mark> allows thirty days."
    )
    page = search_calls(user=supervisor, query=parse('q="parcel never arrived"')[0])
    assert _names(page, calls) == ["c"]


def test_a_matched_line_is_escaped_before_it_is_marked(db, supervisor) -> None:
    call = make_call(T0)
    add_transcript(call, [("caller", 3.0, '<img src=x onerror=alert(1)> refund & "more"')])
    page = search_calls(user=supervisor, query=parse("q=refund")[0])
    html = str(page.rows[0].matched_line.html)
    assert html == "&lt;img src=x onerror=alert(1)&gt; <mark>refund</mark> &amp; &quot;more&quot;"


def test_a_line_holding_marker_characters_cannot_inject_tags(db, supervisor) -> None:
    call = make_call(T0)
    add_transcript(call, [("caller", 3.0, "refund \x02<b>\x03 here")])
    html = str(search_calls(user=supervisor, query=parse("q=refund")[0]).rows[0].matched_line.html)
    assert "<b>" not in html
    assert "<mark>refund</mark>" in html


def test_highlight_without_a_database_escapes_then_marks() -> None:
    assert str(highlight("Refund <b>x</b> refunds", ["refund"])) == (
        "<mark>Refund</mark> &lt;b&gt;x&lt;/b&gt; <mark>refund</mark>s"
    )


# --- keyset pages ----------------------------------------------------------------------------


def _query_of(link: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(link).query)


@pytest.mark.parametrize("sort", ["-started", "started", "agent", "-duration", "-overtalk"])
def test_pages_walk_forward_and_back_without_gaps_or_repeats(db, supervisor, sort) -> None:
    for i in range(23):
        call = make_call(
            T0 - timedelta(minutes=i % 7), agent_id=f"a{i % 4}", duration_seconds=i % 5
        )
        add_analysis(call, overtalk_seconds=float(i % 3))
    query = parse(f"sort={sort}")[0]
    everything = [r.call.pk for r in search_calls(user=supervisor, query=query, page_size=100).rows]
    assert len(everything) == 23

    pages, cursor_params = [], f"sort={sort}"
    while True:
        page = search_calls(user=supervisor, query=parse(cursor_params)[0], page_size=5)
        pages.append([r.call.pk for r in page.rows])
        if page.next_cursor is None:
            break
        cursor_params = f"sort={sort}&cursor={page.next_cursor}"
    assert [pk for p in pages for pk in p] == everything
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]

    # and back from the last page to the first
    back = []
    while page.previous_cursor is not None:
        page = search_calls(
            user=supervisor,
            query=parse(f"sort={sort}&cursor={page.previous_cursor}")[0],
            page_size=5,
        )
        back.append([r.call.pk for r in page.rows])
    assert back == pages[-2::-1]


def test_a_cursor_of_another_sort_is_refused(db, supervisor) -> None:
    for i in range(3):
        make_call(T0 - timedelta(minutes=i))
    page = search_calls(user=supervisor, query=parse("")[0], page_size=1)
    query, errors = parse(f"sort=agent&cursor={page.next_cursor}")
    assert query.cursor is None
    assert errors == ["Page: the page link is out of date or damaged — showing the first page."]


def test_a_tampered_cursor_is_refused(db, supervisor) -> None:
    for i in range(3):
        make_call(T0 - timedelta(minutes=i))
    token = search_calls(user=supervisor, query=parse("")[0], page_size=1).next_cursor
    assert token is not None
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert parse(f"cursor={forged}")[0].cursor is None


def test_the_count_is_capped(db, supervisor, monkeypatch) -> None:
    monkeypatch.setattr("monitoring.call_search.COUNT_CAP", 3)
    for i in range(5):
        make_call(T0 - timedelta(minutes=i))
    page = search_calls(user=supervisor, query=CallQuery())
    assert (page.count, page.count_capped) == (3, True)


# --- the page --------------------------------------------------------------------------------


def test_the_page_links_rows_and_matching_lines_to_the_call_page(calls, client, supervisor) -> None:
    client.force_login(supervisor)
    response = client.get("/calls/", {"q": "refund"})
    assert response.status_code == 200
    html = response.content.decode()
    a = calls["a"]
    assert f'class="row-link" href="/calls/{a.pk}/"' in html
    assert f'href="/calls/{a.pk}/#t=4"' in html
    assert "I want a <mark>refund</mark> for my order." in html
    assert "2 matching calls on this page." in html  # searches are not counted


def test_the_page_shows_bad_filters_and_still_lists(calls, client, supervisor) -> None:
    client.force_login(supervisor)
    response = client.get("/calls/", {"status": "nope", "from": "yesterday", "agent": "a1"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Status: “nope” is not one of the choices — this filter was ignored." in html
    assert "From date: use a date like 2025-01-31 — this filter was ignored." in html
    assert len(response.context["page"].rows) == 2  # the agent filter still applies


def test_the_page_s_next_link_keeps_the_filters(db, client, supervisor, monkeypatch) -> None:
    monkeypatch.setattr("monitoring.call_search.PAGE_SIZE", 2)
    for i in range(5):
        make_call(T0 - timedelta(minutes=i), agent_id="a1")
    client.force_login(supervisor)
    html = client.get("/calls/", {"agent": "a1"}).content.decode()
    link = re.search(r'rel="next" href="([^"]+)"', html)
    assert link is not None
    params = _query_of(link.group(1).replace("&amp;", "&"))
    assert params["agent"] == ["a1"]
    assert "cursor" in params


def _count_page_queries(client, rows: int) -> int:
    client.get("/calls/?q=refund")  # warm the session and permission caches
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/calls/?q=refund")
    assert len(response.context["page"].rows) == rows
    return len(queries)


def test_the_page_costs_the_same_queries_for_5_or_50_rows(db, client, supervisor) -> None:
    client.force_login(supervisor)

    def add(n: int, offset: int) -> None:
        for i in range(n):
            call = make_call(T0 - timedelta(minutes=offset + i), recording_path="r.wav")
            add_analysis(call)
            add_transcript(call, [("agent", 1.0, "hello"), ("caller", 2.0, "a refund please")])

    add(5, 0)
    with_5 = _count_page_queries(client, 5)
    add(45, 5)
    with_50 = _count_page_queries(client, 50)
    assert with_5 == with_50


@pytest.mark.parametrize("text", ["refunds", "refund policy", '"parcel never arrived"', "nothing"])
def test_rare_and_common_words_find_the_same_calls(calls, supervisor, monkeypatch, text) -> None:
    """Few matching lines are listed straight from the text index, many are checked call by
    call in order: both plans give the same page."""
    query = parse(urlencode({"q": text}))[0]
    sparse = search_calls(user=supervisor, query=query)
    monkeypatch.setattr("monitoring.transcript_search.COMMON_WORD_FREQUENCY", 0)  # always "common"
    dense = search_calls(user=supervisor, query=query)
    assert [r.call.pk for r in sparse.rows] == [r.call.pk for r in dense.rows]
    assert [str(r.matched_line.html) for r in sparse.rows] == [
        str(r.matched_line.html) for r in dense.rows
    ]
    assert (len(sparse.rows) > 0) == (text != "nothing")
