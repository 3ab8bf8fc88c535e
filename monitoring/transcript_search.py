"""Full-text search over transcript lines, for the calls list and the API.

PostgreSQL's English text search over ``to_tsvector('english', text)``, served by a GIN index
(streaming migration 0005); on SQLite a plain case-insensitive "contains every word". Each call
shows its first matching line, escaped, with the match marked: ``ts_headline`` marks matches
with control characters that are turned into ``<mark>`` only after escaping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import connection
from django.db.models import BooleanField, Exists, F, Func, OuterRef, Q, TextField, Value
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from streaming.models import TranscriptSegment

# A search whose rarest word is on fewer than this share of transcript lines, and whose matches
# are at most SPARSE_MATCH_LIMIT lines, lists their calls straight from the text index.
COMMON_WORD_FREQUENCY = 0.005
SPARSE_MATCH_LIMIT = 5_000
TEXT_SEARCH_CONFIG = "english"  # the GIN index (streaming migration 0004) is on this config
TEXT_SEARCH_INDEX = "streaming_segment_text_fts"
_START_MARK, _END_MARK = "\x02", "\x03"  # ts_headline's markers, replaced after escaping


# --- full-text search ------------------------------------------------------------------------


class EnglishTsVector(Func):
    """``to_tsvector('english', text)``: exactly the GIN index's expression, so it is used."""

    template = f"to_tsvector('{TEXT_SEARCH_CONFIG}'::regconfig, %(expressions)s)"
    output_field = TextField()


class WebSearchQuery(Func):
    """``websearch_to_tsquery('english', …)``: quotes, ``or`` and ``-word`` as people type them."""

    template = f"websearch_to_tsquery('{TEXT_SEARCH_CONFIG}'::regconfig, %(expressions)s)"
    output_field = TextField()


class TextMatches(Func):
    """``tsvector @@ tsquery``."""

    arg_joiner = " @@ "
    template = "(%(expressions)s)"
    output_field = BooleanField()


class HeadLine(Func):
    """``ts_headline`` of a whole line with each match between control-character markers."""

    template = (
        f"ts_headline('{TEXT_SEARCH_CONFIG}'::regconfig, %(expressions)s, "
        f'\'HighlightAll=true, StartSel="{_START_MARK}", StopSel="{_END_MARK}"\')'
    )
    output_field = TextField()


def uses_postgres_search() -> bool:
    return connection.vendor == "postgresql"


def search_words(text: str) -> list[str]:
    return [w for w in re.findall(r"\w+", text) if w][:10]


def segment_match(text: str) -> Q | TextMatches:
    """The condition a transcript line must meet to match the search ``text``."""
    if uses_postgres_search():
        return TextMatches(EnglishTsVector(F("text")), WebSearchQuery(Value(text)))
    condition = Q()
    for word in search_words(text) or [text]:
        condition &= Q(text__icontains=word)
    return condition


def highlight(text: str, words: list[str]) -> SafeString:
    """``text`` escaped, with every case-insensitive occurrence of ``words`` in ``<mark>``."""
    if not words:
        return escape(text)
    pattern = re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)), re.I)
    parts: list[str] = []
    position = 0
    for found in pattern.finditer(text):
        parts.append(escape(text[position : found.start()]))
        parts.append(f"<mark>{escape(found.group(0))}</mark>")
        position = found.end()
    parts.append(escape(text[position:]))
    return mark_safe("".join(parts))  # noqa: S308 - every piece of text was escaped above


def _marked_headline(headline: str, original: str, words: list[str]) -> SafeString:
    """``ts_headline``'s output escaped, then its markers turned into ``<mark>``.

    If the line itself contains a marker character, the markers cannot be trusted, and the line
    is highlighted by its words instead.
    """
    if _START_MARK in original or _END_MARK in original:
        return highlight(original, words)
    escaped = str(escape(headline))
    return mark_safe(  # noqa: S308 - escaped above; only our own markers become tags
        escaped.replace(_START_MARK, "<mark>").replace(_END_MARK, "</mark>")
    )


@dataclass(frozen=True)
class MatchedLine:
    """The first transcript line of a call that matches the search."""

    start_seconds: float
    speaker: str
    html: SafeString

    @property
    def anchor_seconds(self) -> int:
        return int(self.start_seconds)

    @property
    def timestamp(self) -> str:
        """``m:ss`` (or ``h:mm:ss``) into the recording."""
        minutes, seconds = divmod(self.anchor_seconds, 60)
        hours, minutes = divmod(minutes, 60)
        return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


_RAREST_WORD_FREQUENCY_SQL = """
SELECT coalesce(min(coalesce(stats.frequency, 0)), 0)
FROM unnest(tsvector_to_array(to_tsvector('english'::regconfig, %s))) AS searched(lexeme)
LEFT JOIN (
    SELECT element, frequency
    FROM pg_stats,
         unnest(most_common_elems::text::text[], most_common_elem_freqs) AS x(element, frequency)
    WHERE tablename = %s AND attname = 'to_tsvector'
) AS stats ON stats.element = searched.lexeme
"""


def _rarest_word_frequency(text: str) -> float:
    """The share of transcript lines holding the search's rarest word, from the statistics
    ANALYZE keeps for the text index (0 for a word too rare to be listed there)."""
    with connection.cursor() as cursor:
        cursor.execute(_RAREST_WORD_FREQUENCY_SQL, [text, TEXT_SEARCH_INDEX])
        row = cursor.fetchone()
    return float(row[0]) if row and row[0] is not None else 0.0


def calls_matching_condition(text: str) -> Q | Exists:
    """Calls with a transcript line matching ``text``, by the plan that suits the words.

    Rare words (names, products, order numbers) are on few lines: the GIN index finds them all
    at once and the page is those calls in order. Common words are on lines of many calls: the
    page is then quickest read in order, checking each call's few lines until it is full. The
    planner's choice between the two is poor (it took the second for a word on 1,000 of
    5,000,000 lines), so the index's own word statistics decide, and a bounded read of the
    index confirms a rare search before its calls are listed.
    """
    matching = TranscriptSegment.objects.filter(segment_match(text))
    if uses_postgres_search() and _rarest_word_frequency(text) < COMMON_WORD_FREQUENCY:
        probe = list(
            matching.values_list("transcript__call_id", flat=True)[: SPARSE_MATCH_LIMIT + 1]
        )
        if len(probe) <= SPARSE_MATCH_LIMIT:
            return Q(pk__in=sorted(set(probe)))
    return Exists(matching.filter(transcript__call=OuterRef("pk")))


def first_matching_lines(text: str, call_ids: list[int]) -> dict[int, MatchedLine]:
    """The first matching line of each call, in one query."""
    if not call_ids:
        return {}
    segments = (
        TranscriptSegment.objects.filter(transcript__call_id__in=call_ids)
        .filter(segment_match(text))
        .annotate(call_pk=F("transcript__call_id"))
        .order_by("transcript__call_id", "start", "seq")
    )
    postgres = uses_postgres_search()
    if postgres:
        segments = segments.annotate(headline=HeadLine(F("text"), WebSearchQuery(Value(text))))
    words = search_words(text)
    lines: dict[int, MatchedLine] = {}
    for segment in segments.only("id", "start", "speaker", "text", "transcript_id"):
        if segment.call_pk in lines:
            continue
        html = (
            _marked_headline(segment.headline, segment.text, words)  # type: ignore[attr-defined]
            if postgres
            else highlight(segment.text, words)
        )
        lines[segment.call_pk] = MatchedLine(segment.start, segment.speaker, html)
    return lines
