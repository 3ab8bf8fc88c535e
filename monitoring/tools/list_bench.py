"""The calls list on a large table: seed N calls fast on PostgreSQL, then time the page.

Seeding is server-side (``INSERT … SELECT generate_series``) in chunks: calls spread over a
year with a realistic mix of agents, callers, queues and campaigns, statuses and durations;
an analysis for most ended calls; a post-call transcript of several lines for most completed
calls, the lines built from contact-centre phrases with a few rare words. Every seeded call is
``is_demo`` with a ``bench-`` call id, so ``clean`` removes exactly them.

Timing uses Django's test client with a signed-in supervisor: the server's whole answer
(middleware, session, queries, template), not the network. It is a benchmark, not a test.
"""

from __future__ import annotations

import re
import secrets
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlencode

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client

from monitoring.tools.bench_http import allowed_host
from ringadmin.compliance.roles import Role
from ringadmin.compliance.users import user_create

BENCH_PREFIX = "bench-"
BENCH_USER = "bench-supervisor"
FTS_INDEX_SQL = (
    "CREATE INDEX IF NOT EXISTS streaming_segment_text_fts ON streaming_transcriptsegment "
    "USING gin (to_tsvector('english'::regconfig, text))"
)

PHRASES = [
    "thank you for calling how can I help you today",
    "I would like a refund for my last bill",
    "my internet connection keeps dropping in the evening",
    "can you confirm the address on the account",
    "I want to cancel my subscription",
    "the payment did not go through yesterday",
    "let me check that for you one moment please",
    "your order has been dispatched and should arrive tomorrow",
    "I was charged twice this month",
    "could you reset my password please",
    "the router lights are flashing orange",
    "I have been waiting on hold for twenty minutes",
    "is there a discount if I upgrade my plan",
    "we can offer you a credit on your next invoice",
    "the delivery never arrived",
    "I need to update my card details",
    "can I speak to a manager",
    "the technician will visit on Tuesday morning",
    "please hold while I transfer you",
    "your account number please",
    "I moved house last week",
    "the app shows an error when I log in",
    "our refund policy allows thirty days",
    "I am calling about a complaint",
    "is there anything else I can help with",
    "thanks for your patience",
    "the signal is weak upstairs",
    "I would like to switch to paperless billing",
    "my contract ends next month",
    "can you send me a confirmation email",
    "the price went up without notice",
    "I never received the replacement",
    "we apologise for the inconvenience",
    "let me escalate this to our billing team",
    "the parcel was left with a neighbour",
    "could you spell your surname for me",
    "I want to add a second line",
    "the bill is much higher than usual",
    "you will receive a text message shortly",
    "have a lovely day goodbye",
]
RARE_WORDS = [
    "zephyrlink",
    "quantaflex",
    "orbitrail",
    "lumenpost",
    "vexicore",
    "tidalmesh",
    "corvane",
    "brightwick",
    "nimbusport",
    "halcyra",
    "ferroglide",
    "opaline",
    "strataloop",
    "kestrelnet",
    "mirabound",
    "solvance",
    "tessarine",
    "windlark",
    "quillstone",
    "emberfield",
]


# --- seeding ---------------------------------------------------------------------------------

_CALLS_SQL = """
INSERT INTO calls_call (
    ringcx_call_id, session_id, ani, dnis, account_id, subaccount_id, rc_account_id, agent_id,
    product_type, product_id, status, started_at, ended_at, duration_seconds, end_reason,
    recording_path, metadata, handshake, stream_stats, is_demo, created_at, updated_at,
    ingest_owner)
SELECT %(prefix)s || g, '1',
    '+1415' || lpad(((hashint * 7919) %% 200000)::text, 7, '0'),
    '+1800555' || lpad((hashint %% 20)::text, 4, '0'),
    '99990000', '99990001', '123456789',
    (1000 + (hashint %% 200))::text,
    CASE WHEN r1 < 0.70 THEN 'Queue' WHEN r1 < 0.95 THEN 'Campaign' ELSE 'Manual' END,
    CASE WHEN r1 < 0.70 THEN (1000 + hashint %% 30)::text
         WHEN r1 < 0.95 THEN (500 + hashint %% 15)::text ELSE '' END,
    status, started,
    CASE WHEN status = 'live' THEN NULL ELSE started + make_interval(secs => dur) END,
    CASE WHEN status = 'live' THEN NULL ELSE dur END,
    '', CASE WHEN status <> 'rejected' AND r2 < 0.97 THEN 'bench/' || g || '.wav' ELSE '' END,
    '{}', '{}', '{}', true, now(), now(), ''
FROM (
    SELECT g, hashint, r1, r2,
        now() - make_interval(secs => (%(total)s - g) * %(spacing)s + random() * %(spacing)s)
            AS started,
        CASE WHEN g > %(total)s - %(live)s THEN 'live'
             WHEN r3 < 0.90 THEN 'completed' WHEN r3 < 0.96 THEN 'incomplete'
             ELSE 'rejected' END AS status,
        round((15 + power(r4, 2) * 1500)::numeric, 1)::float AS dur
    FROM (
        SELECT g, abs(hashint4(g)::bigint) AS hashint, random() AS r1, random() AS r2,
               random() AS r3, random() AS r4
        FROM generate_series(%(first)s, %(last)s) AS g
    ) AS base
) AS rows
"""

_ANALYSIS_SQL = """
INSERT INTO calls_callanalysis (
    call_id, audio_seconds, agent_talk_seconds, caller_talk_seconds, silence_seconds,
    overtalk_seconds, longest_monologue_seconds, longest_monologue_speaker, agent_interruptions,
    caller_interruptions, computed_at)
SELECT id, duration_seconds, duration_seconds * a, duration_seconds * c,
    duration_seconds * greatest(0, 1 - a - c), duration_seconds * o,
    round((duration_seconds * m)::numeric, 1)::float,
    CASE WHEN a > c THEN 'agent' ELSE 'caller' END,
    floor(power(random(), 3) * 12)::int, floor(power(random(), 3) * 10)::int, now()
FROM (
    SELECT id, duration_seconds, 0.3 + random() * 0.3 AS a, 0.2 + random() * 0.25 AS c,
        power(random(), 4) * 0.12 AS o, 0.05 + power(random(), 2) * 0.4 AS m
    FROM calls_call
    WHERE id > %(after_id)s AND ringcx_call_id LIKE %(like)s AND is_demo
      AND status IN ('completed', 'incomplete') AND random() < 0.9
) AS x
"""

_TRANSCRIPTS_SQL = """
INSERT INTO streaming_transcript (
    call_id, kind, engine, model, status, progress, error, attempts, audio_seconds,
    processing_seconds, created_at, updated_at, completed_at)
SELECT id, 'post_call', 'whisper', 'tiny.en', 'done', 1, '', 1, duration_seconds,
    duration_seconds / 20, now(), now(), now()
FROM calls_call
WHERE id > %(after_id)s AND ringcx_call_id LIKE %(like)s AND is_demo
  AND status = 'completed' AND random() < 0.95
"""

_SEGMENTS_SQL = """
INSERT INTO streaming_transcriptsegment (
    transcript_id, seq, speaker, start, "end", text, confidence, words)
SELECT t.id, s, CASE WHEN s %% 2 = 0 THEN 'agent' ELSE 'caller' END,
    s * 9.5, s * 9.5 + 8,
    (%(phrases)s::text[])[1 + floor(random() * %(n_phrases)s)::int]
      || CASE WHEN random() < 0.5
              THEN ' ' || (%(phrases)s::text[])[1 + floor(random() * %(n_phrases)s)::int]
              ELSE '' END
      || CASE WHEN random() < 0.004
              THEN ' about the ' || (%(rare)s::text[])[1 + floor(random() * %(n_rare)s)::int]
              ELSE '' END
      || CASE WHEN random() < 0.1 THEN ' order ' || floor(random() * 999999)::int ELSE '' END,
    0.9, '[]'
FROM streaming_transcript t
CROSS JOIN LATERAL generate_series(0, 2 + (t.id %% 7)::int) AS s
WHERE t.id > %(after_transcript)s
"""


def _max_id(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}")  # noqa: S608 - our names
        return int(cursor.fetchone()[0])


def bench_rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM calls_call WHERE is_demo AND ringcx_call_id LIKE %s",
            [BENCH_PREFIX + "%"],
        )
        return int(cursor.fetchone()[0])


def seed(
    *, calls: int, chunk: int, out: Callable[[str], None], drop_fts_index: bool = True
) -> None:
    """Add ``calls`` bench calls with analyses and transcripts, ``chunk`` calls per transaction."""
    if connection.vendor != "postgresql":
        raise RuntimeError("the calls list benchmark seeds PostgreSQL only (set DATABASE_URL)")
    already = bench_rows()
    spacing = 365 * 24 * 3600 / max(calls + already, 1)  # a year of calls
    if drop_fts_index:
        # A GIN index is much faster built once than maintained row by row.
        with connection.cursor() as cursor:
            cursor.execute("DROP INDEX IF EXISTS streaming_segment_text_fts")
    started = time.monotonic()
    for first in range(already + 1, already + calls + 1, chunk):
        last = min(first + chunk - 1, already + calls)
        after_call, after_transcript = _max_id("calls_call"), _max_id("streaming_transcript")
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                _CALLS_SQL,
                {
                    "prefix": BENCH_PREFIX,
                    "first": first,
                    "last": last,
                    "total": already + calls,
                    "spacing": spacing,
                    "live": 40,
                },
            )
            params: dict[str, Any] = {"after_id": after_call, "like": BENCH_PREFIX + "%"}
            cursor.execute(_ANALYSIS_SQL, params)
            cursor.execute(_TRANSCRIPTS_SQL, params)
            cursor.execute(
                _SEGMENTS_SQL,
                {
                    "after_transcript": after_transcript,
                    "phrases": PHRASES,
                    "n_phrases": len(PHRASES),
                    "rare": RARE_WORDS,
                    "n_rare": len(RARE_WORDS),
                },
            )
        done = last - already
        elapsed = time.monotonic() - started
        out(f"  {done:>9,} / {calls:,} calls seeded ({elapsed:,.0f} s)")
    finish_indexes(out=out)


def finish_indexes(*, out: Callable[[str], None]) -> None:
    """(Re)build the full-text index and refresh the planner's statistics."""
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        cursor.execute(FTS_INDEX_SQL)
        out(f"  full-text index built ({time.monotonic() - started:,.0f} s)")
        for table in (
            "calls_call",
            "calls_callanalysis",
            "streaming_transcript",
            "streaming_transcriptsegment",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")
    out(f"  VACUUM ANALYZE done ({time.monotonic() - started:,.0f} s)")


_CLEAN_SQL = [
    "DELETE FROM streaming_transcriptsegment WHERE transcript_id IN (SELECT t.id FROM "
    "streaming_transcript t JOIN calls_call c ON c.id = t.call_id "
    "WHERE c.is_demo AND c.ringcx_call_id LIKE %s)",
    "DELETE FROM streaming_transcript WHERE call_id IN "
    "(SELECT id FROM calls_call WHERE is_demo AND ringcx_call_id LIKE %s)",
    "DELETE FROM calls_callanalysis WHERE call_id IN "
    "(SELECT id FROM calls_call WHERE is_demo AND ringcx_call_id LIKE %s)",
    "DELETE FROM calls_call WHERE is_demo AND ringcx_call_id LIKE %s",
]


def clean(*, out: Callable[[str], None]) -> None:
    """Remove every bench call and what hangs from it (children first: no database cascade)."""
    with transaction.atomic(), connection.cursor() as cursor:
        for sql in _CLEAN_SQL:
            cursor.execute(sql, [BENCH_PREFIX + "%"])
        out(f"  removed {cursor.rowcount:,} bench calls")


# --- timing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    group: str  # "list" or "search": which target applies
    name: str
    params: dict[str, str]


def _common_values() -> dict[str, str]:
    """Real values from the seeded data, so every filter has matches to page through."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT agent_id, ani, dnis FROM calls_call WHERE is_demo AND ringcx_call_id LIKE %s "
            "ORDER BY id DESC LIMIT 1",
            [BENCH_PREFIX + "%"],
        )
        row = cursor.fetchone()
    if row is None:
        raise RuntimeError("no bench calls: seed first (calls_list_bench --calls N)")
    return {"agent": row[0], "caller": row[1], "dialled": row[2]}


def cases() -> list[Case]:
    values = _common_values()
    today = time.strftime("%Y-%m-%d", time.gmtime())
    week_ago = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 7 * 86400))
    month_ago = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 30 * 86400))
    month = (
        time.strftime("%Y-%m-%d", time.gmtime(time.time() - 200 * 86400)),
        time.strftime("%Y-%m-%d", time.gmtime(time.time() - 170 * 86400)),
    )
    listing = [
        ("no filter (newest first)", {}),
        ("last 7 days", {"from": week_ago, "to": today}),
        ("a month, 6 months ago", {"from": month[0], "to": month[1]}),
        ("agent", {"agent": values["agent"]}),
        ("caller (ANI)", {"caller": values["caller"]}),
        ("dialled (DNIS)", {"dialled": values["dialled"]}),
        ("queue", {"product_type": "Queue", "product_id": "1007"}),
        ("campaign", {"product_type": "Campaign"}),
        ("status rejected", {"status": "rejected"}),
        ("status live", {"status": "live"}),
        ("no recording", {"recording": "no"}),
        ("with recording", {"recording": "yes"}),
        ("no transcript", {"transcript": "no"}),
        ("with transcript", {"transcript": "yes"}),
        ("overtalk >= 60 s", {"min_overtalk": "60"}),
        ("monologue >= 300 s", {"min_monologue": "300"}),
        ("interruptions >= 15", {"min_interruptions": "15"}),
        (
            "agent + status + 30 days",
            {"agent": values["agent"], "status": "completed", "from": month_ago},
        ),
        ("sort: longest first", {"sort": "-duration"}),
        ("sort: agent", {"sort": "agent"}),
        ("sort: status", {"sort": "status"}),
        ("sort: most overtalk", {"sort": "-overtalk"}),
        ("sort: longest monologue", {"sort": "-monologue"}),
        ("sort: most interruptions", {"sort": "-interruptions"}),
        ("sort: oldest first", {"sort": "started"}),
    ]
    searching = [
        ("common word: refund", {"q": "refund"}),
        ("two words: router evening", {"q": "router evening"}),
        ('phrase: "cancel my subscription"', {"q": '"cancel my subscription"'}),
        ("rare word: zephyrlink", {"q": "zephyrlink"}),
        ("no match: xylophone", {"q": "xylophone"}),
        ("refund + agent", {"q": "refund", "agent": values["agent"]}),
        ("refund + last 7 days", {"q": "refund", "from": week_ago}),
        ("refund + most overtalk", {"q": "refund", "sort": "-overtalk"}),
    ]
    return [Case("list", n, p) for n, p in listing] + [Case("search", n, p) for n, p in searching]


def bench_client() -> Client:
    """A test client signed in as the bench supervisor (created once)."""
    user: Any = get_user_model().objects.filter(username=BENCH_USER).first()
    if user is None:
        user = user_create(
            username=BENCH_USER,
            email="bench-supervisor@example.invalid",
            password=secrets.token_urlsafe(24),
            role=Role.SUPERVISOR,
            validate=False,
        )
    client = Client(HTTP_HOST=allowed_host())
    client.force_login(user)
    return client


_NEXT_CURSOR = re.compile(r'rel="next" href="[^"]*cursor=([^"&]+)"')


def _time_get(client: Client, url: str) -> tuple[float, str, int]:
    """Milliseconds to answer, the next page's cursor ("" on the last page), rows shown."""
    started = time.perf_counter()
    response = client.get(url, secure=True)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}")
    html = response.content.decode()
    if "were not understood" in html:
        raise RuntimeError(f"{url}: the page refused a filter")
    found = _NEXT_CURSOR.search(html)
    cursor = unquote(found.group(1)) if found else ""
    return elapsed, cursor, html.count('<tr class="call-row">')


def deep_page_url(client: Client, params: dict[str, str], depth: int) -> str:
    """The URL of page ``depth`` of a listing, found by following its Next links."""
    query = dict(params)
    for _ in range(depth - 1):
        _, cursor, _ = _time_get(client, "/calls/?" + urlencode(query))
        if not cursor:
            break
        query["cursor"] = cursor
    return "/calls/?" + urlencode(query)


@dataclass(frozen=True)
class Result:
    case: Case
    p50: float
    p95: float
    rows: int


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(*, repetitions: int, depth: int, out: Callable[[str], None]) -> Iterator[Result]:
    client = bench_client()
    all_cases = cases()
    deep = Case("list", f"no filter, page {depth}", {})
    deep_sorted = Case("list", f"most overtalk, page {depth}", {"sort": "-overtalk"})
    for case in [*all_cases[:1], deep, deep_sorted, *all_cases[1:]]:
        if case is deep or case is deep_sorted:
            url = deep_page_url(client, case.params, depth)
        else:
            url = "/calls/?" + urlencode(case.params)
        rows = _time_get(client, url)[2]  # warm-up, and the row count
        times = [_time_get(client, url)[0] for _ in range(repetitions)]
        result = Result(case, statistics.median(times), _percentile(times, 0.95), rows)
        out(f"  {case.name:<36} p50 {result.p50:7.1f} ms  p95 {result.p95:7.1f} ms")
        yield result


def report(results: list[Result], *, list_target: float, search_target: float) -> str:
    lines = [
        f"{'case':<38} {'rows':>4} {'p50 ms':>8} {'p95 ms':>8}  target",
        "-" * 72,
    ]
    for r in results:
        target = list_target if r.case.group == "list" else search_target
        verdict = "ok" if r.p95 < target else "OVER"
        lines.append(
            f"{r.case.name:<38} {r.rows:>4} {r.p50:>8.1f} {r.p95:>8.1f}  <{target:.0f} {verdict}"
        )
    return "\n".join(lines)
