"""The one door every transcript line passes before it is stored or shown: PCI and PII redaction.

PCI DSS forbids keeping card security codes after authorisation, in audio or in text, and card
numbers must not sit readable in a transcript. What is redacted, on both speakers:

- payment card numbers: 13 to 19 digits, written ("4111 1111-1111 1111") or spoken ("four one one
  one, double one, oh …", tens like "forty one" too), that pass the Luhn check, and any later
  repetition of six or more of a redacted number's digits (the agent reading it back);
- card security codes: a 3 or 4 digit number within a few words after card context ("security
  code", "CVV", "CVC", "three digits on the back", "code on the back"), or trailing a card number;
- US Social Security numbers: 9 digits, valid as an SSN, written 3-2-4 or after SSN context.

Digits are read across a *context window*: the segments of one call are redacted together,
in time order (a number split over two turns, or finished by the other speaker) and per speaker
(a caller's digits around the agent's "mm-hmm"). Each redaction keeps its kind, its character
offsets in the stored text and, when the words have times, when it was said.

Library choice: ``python-stdnum`` (small, pure Python, maintained, no dependencies) validates
SSNs (``stdnum.us.ssn``: area/group/serial rules and the published blacklist) and is the
reference the tests hold our inlined Luhn check to (``stdnum.luhn`` is several times slower
and runs for every window of every long digit run). Presidio was not used: it needs spaCy and
a language model (hundreds of MB) and its recognisers do not read spoken digits ("double
five", "oh"); ``phonenumbers`` is not needed (phone numbers are left alone by the Luhn and
length rules, not recognised).

``TRANSCRIPT_REDACTOR`` (a dotted path) may replace :func:`redact_conversation`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string
from stdnum.us import ssn as us_ssn

from streaming.transcription.engines.base import Segment, Word

CARD, CVV, SSN = "card", "cvv", "ssn"
MARKERS = {CARD: "[card number]", CVV: "[security code]", SSN: "[SSN]"}
_MARKER_KINDS = {marker: kind for kind, marker in MARKERS.items()}
CARD_MIN, CARD_MAX = 13, 19
ECHO_MIN = 6  # a later run of this many digits of a redacted card number is redacted too
CONTEXT_TOKENS = 12  # how many tokens after a context phrase a code or SSN may follow

_UNITS = {
    "zero": 0, "oh": 0, "o": 0, "nought": 0, "one": 1, "two": 2, "three": 3, "four": 4,
    "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
}  # fmt: skip
_TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 2, "thirty": 3, "forty": 4, "fifty": 5, "sixty": 6, "seventy": 7, "eighty": 8,
    "ninety": 9,
}  # fmt: skip
_REPEAT = {"double": 2, "triple": 3}
_NUMBER_WORDS = frozenset(_UNITS) | frozenset(_TEENS) | frozenset(_TENS) | frozenset(_REPEAT)
_TOKEN = re.compile("[0-9]+|[^\\W\\d_]+(?:'[^\\W\\d_]+)?|[^\\s,.\\-\u2013\u2014]")
# Between two digit groups of one number: spaces, commas, dashes, full stops (speech engines
# punctuate digit groups with all of these).
_SEPARATOR = re.compile("[\\s,.\\-\u2013\u2014]*")  # dash, en dash, em dash
_CARD_CONTEXT = re.compile(
    r"\b(?:security\s+code|cvv2?|cvc2?|cid|card\s+verification|verification\s+(?:code|number)"
    r"|(?:three|four|3|4)[\s-]+digits?(?:\s+code)?(?:\s+on\s+the\s+(?:back|front))?"
    r"|(?:code|number|digits)\s+on\s+the\s+(?:back|front))\b",
    re.IGNORECASE,
)
_SSN_CONTEXT = re.compile(r"\b(?:social(?:\s+security)?|ssn|s\s*s\s*n)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Redaction:
    kind: str
    start: int  # character offsets in the redacted (stored) text
    end: int
    time_start: float | None = None
    time_end: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "start": self.start, "end": self.end}
        if self.time_start is not None:
            data["time_start"] = round(self.time_start, 3)
            data["time_end"] = round(self.time_end or self.time_start, 3)
        return data


@dataclass(frozen=True)
class RedactedSegment:
    """A segment as it may be stored and shown, and what was taken out of it."""

    segment: Segment
    redactions: tuple[Redaction, ...] = ()
    original: Segment | None = None  # set only when something was redacted

    @property
    def changed(self) -> bool:
        return bool(self.redactions)


@dataclass
class _Token:
    start: int  # offsets in the stream
    end: int
    digits: str = ""  # "" when the token is not a number


@dataclass
class _Stream:
    """Segments' texts joined by newlines, so a run of digits may cross from one to the next."""

    text: str
    offsets: list[int]  # where each segment's text starts in ``text``
    tokens: list[_Token] = field(default_factory=list)


def _stream(texts: Sequence[str]) -> _Stream:
    offsets, parts, at = [], [], 0
    for text in texts:
        offsets.append(at)
        parts.append(text)
        at += len(text) + 1
    return _Stream(text="\n".join(parts), offsets=offsets)


def _tokens(text: str, excluded: list[tuple[int, int]]) -> list[_Token]:
    """Tokens with the digits each stands for; words inside context phrases are not numbers
    ("three digits on the back")."""
    raw = [(m.start(), m.end(), m.group().lower()) for m in _TOKEN.finditer(text)]
    out: list[_Token] = []
    i = 0
    while i < len(raw):
        start, end, word = raw[i]
        if word not in _NUMBER_WORDS and not word[0].isdigit():
            out.append(_Token(start, end))
            i += 1
            continue
        if excluded and any(a <= start < b for a, b in excluded):
            out.append(_Token(start, end))
            i += 1
            continue
        nxt = raw[i + 1] if i + 1 < len(raw) else None
        adjacent = nxt is not None and _SEPARATOR.fullmatch(text[end : nxt[0]]) is not None
        if word.isascii() and word.isdigit():
            out.append(_Token(start, end, word))
        elif word in _REPEAT and nxt is not None and adjacent:
            repeated = _UNITS.get(nxt[2])
            digit = str(repeated) if repeated is not None else nxt[2]
            if len(digit) == 1 and digit.isdigit():
                out.append(_Token(start, nxt[1], digit * _REPEAT[word]))
                i += 2
                continue
            out.append(_Token(start, end))
        elif word in _UNITS:
            out.append(_Token(start, end, str(_UNITS[word])))
        elif word in _TEENS:
            out.append(_Token(start, end, str(_TEENS[word])))
        elif word in _TENS:
            if nxt is not None and adjacent and nxt[2] in _UNITS and _UNITS[nxt[2]] > 0:
                out.append(_Token(start, nxt[1], f"{_TENS[word]}{_UNITS[nxt[2]]}"))
                i += 2
                continue
            out.append(_Token(start, end, f"{_TENS[word]}0"))
        else:
            out.append(_Token(start, end))
        i += 1
    return out


def _runs(text: str, tokens: list[_Token]) -> list[list[int]]:
    """Indexes of consecutive number tokens with only separators between them."""
    runs: list[list[int]] = []
    current: list[int] = []
    for i, token in enumerate(tokens):
        if token.digits and current:
            previous = tokens[current[-1]]
            if _SEPARATOR.fullmatch(text[previous.end : token.start]) is not None:
                current.append(i)
                continue
        if current:
            runs.append(current)
        current = [i] if token.digits else []
    if current:
        runs.append(current)
    return runs


_DOUBLED = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9]  # a digit doubled, its digits summed


def _luhn_valid(digits: str) -> bool:
    """The Luhn check, inlined: it runs for every window of every long run of digits, about
    ten times faster than ``stdnum.luhn.is_valid`` (which the tests hold it equal to)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        total += _DOUBLED[digit] if position & 1 else digit
    return total % 10 == 0


def _card_tokens(tokens: list[_Token], run: list[int]) -> set[int]:
    """Tokens of ``run`` covering any Luhn-valid stretch of 13 to 19 digits made of whole
    tokens (groups as written, "4111 1111 …", or digits as spoken): a group is never cut, so
    a Luhn-invalid "4111 1111 1111 1112" is not redacted for a valid 13 digits inside it."""
    marked: set[int] = set()
    for first in range(len(run)):
        digits = ""
        for last in range(first, len(run)):
            digits += tokens[run[last]].digits
            if len(digits) > CARD_MAX:
                break
            if len(digits) >= CARD_MIN and _luhn_valid(digits):
                marked.update(run[first : last + 1])
    return marked


def _context_before(
    spans: list[tuple[int, int]], tokens: list[_Token], first: int, limit: int
) -> bool:
    """Whether a context phrase ends within ``limit`` tokens before token ``first``."""
    start = tokens[first].start
    window_start = tokens[max(0, first - limit)].start
    return any(window_start <= end <= start for _begin, end in spans)


def _find(stream: _Stream, known_cards: set[str]) -> dict[int, str]:
    """Token index → kind, for one stream."""
    text = stream.text
    card_spans = [m.span() for m in _CARD_CONTEXT.finditer(text)]
    ssn_spans = [m.span() for m in _SSN_CONTEXT.finditer(text)]
    tokens = stream.tokens = _tokens(text, card_spans)
    marks: dict[int, str] = {}
    for run in _runs(text, tokens):
        cards = _card_tokens(tokens, run)
        for i in cards:
            marks[i] = CARD
        if cards:
            known_cards.add("".join(tokens[i].digits for i in run if i in cards))
            after = [i for i in run if i > max(cards)]
            if 3 <= len("".join(tokens[i].digits for i in after)) <= 4:
                marks.update(dict.fromkeys(after, CVV))
            continue
        digits = "".join(tokens[i].digits for i in run)
        if 3 <= len(digits) <= 4 and _context_before(card_spans, tokens, run[0], CONTEXT_TOKENS):
            marks.update(dict.fromkeys(run, CVV))
        elif len(digits) == 9 and us_ssn.is_valid(digits):
            grouped = [len(tokens[i].digits) for i in run] == [3, 2, 4]
            if grouped or _context_before(ssn_spans, tokens, run[0], CONTEXT_TOKENS):
                marks.update(dict.fromkeys(run, SSN))
        elif len(digits) >= ECHO_MIN and any(digits in card for card in known_cards):
            marks.update(dict.fromkeys(run, CARD))
    return marks


def _spans(stream: _Stream, marks: dict[int, str]) -> list[tuple[int, int, str]]:
    """Marked tokens → (start, end, kind) spans in the stream, neighbours of one kind joined
    when only separators lie between them."""
    spans: list[tuple[int, int, str]] = []
    for i in sorted(marks):
        token, kind = stream.tokens[i], marks[i]
        if spans:
            start, end, previous = spans[-1]
            gap = stream.text[end : token.start]
            if previous == kind and "\n" not in gap and _SEPARATOR.fullmatch(gap) is not None:
                spans[-1] = (start, token.end, kind)
                continue
        spans.append((token.start, token.end, kind))
    return spans


def _word_offsets(text: str, words: Sequence[Word]) -> list[tuple[int, int]] | None:
    """Where each word's text is in the segment's text, or None when they do not line up."""
    at, out = 0, []
    for word in words:
        needle = word.text.strip()
        found = text.find(needle, at) if needle else at
        if found < 0:
            return None
        out.append((found, found + len(needle)))
        at = found + len(needle)
    return out


def _apply(segment: Segment, spans: list[tuple[int, int, str]]) -> RedactedSegment:
    """Replace ``spans`` (offsets in the segment's own text) by markers, in text and words."""
    if not spans:
        return RedactedSegment(segment)
    spans = sorted(_merge_overlaps(spans))
    word_spans = _word_offsets(segment.text, segment.words) if segment.words else None
    pieces, redactions, at, shift = [], [], 0, 0
    for start, end, kind in spans:
        marker = MARKERS[kind]
        pieces.append(segment.text[at:start])
        pieces.append(marker)
        new_start = start + shift
        times = None
        if word_spans is not None:
            hit = [
                w
                for w, (a, b) in zip(segment.words, word_spans, strict=True)
                if a < end and b > start
            ]
            if hit:
                times = (min(w.start for w in hit), max(w.end for w in hit))
        redactions.append(
            Redaction(
                kind,
                new_start,
                new_start + len(marker),
                times[0] if times else None,
                times[1] if times else None,
            )
        )
        shift += len(marker) - (end - start)
        at = end
    pieces.append(segment.text[at:])
    words = _redact_words(segment.words, word_spans, spans)
    redacted = replace(segment, text="".join(pieces), words=words)
    return RedactedSegment(redacted, tuple(redactions), original=segment)


def _merge_overlaps(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Spans found by several streams may overlap: keep one per stretch (a card wins)."""
    rank = {CARD: 0, SSN: 1, CVV: 2}
    out: list[tuple[int, int, str]] = []
    for start, end, kind in sorted(spans):
        if out and start < out[-1][1]:
            s, e, k = out[-1]
            out[-1] = (s, max(e, end), k if rank[k] <= rank[kind] else kind)
        else:
            out.append((start, end, kind))
    return out


def _redact_words(
    words: tuple[Word, ...],
    word_spans: list[tuple[int, int]] | None,
    spans: list[tuple[int, int, str]],
) -> tuple[Word, ...]:
    """Words inside a redaction become one word, the marker, over their time; words that do
    not line up with the text are dropped rather than risk keeping digits."""
    if not words:
        return ()
    if word_spans is None:
        return ()
    out: list[Word] = []
    taken: dict[int, int] = {}
    for n, (start, end, _kind) in enumerate(spans):
        for w, (a, b) in enumerate(word_spans):
            if a < end and b > start:
                taken.setdefault(w, n)
    emitted: set[int] = set()
    for w, word in enumerate(words):
        span = taken.get(w)
        if span is None:
            out.append(word)
            continue
        if span in emitted:
            continue
        emitted.add(span)
        group = [words[i] for i, m in taken.items() if m == span]
        out.append(
            Word(
                start=min(x.start for x in group),
                end=max(x.end for x in group),
                text=MARKERS[spans[span][2]],
                confidence=word.confidence,
            )
        )
    return tuple(out)


def redact_conversation(turns: Sequence[tuple[str, Segment]]) -> list[RedactedSegment]:
    """Redact a call's segments together: ``turns`` is (speaker, segment) in time order.

    Each segment is read in three streams (the whole conversation, its speaker's segments
    only, and itself), so digits split across turns or speakers are found; the union of what
    any stream found is redacted.
    """
    segments = [segment for _speaker, segment in turns]
    spans_by_segment: list[list[tuple[int, int, str]]] = [[] for _ in segments]
    known_cards: set[str] = set()
    groups: list[list[int]] = [list(range(len(segments)))]
    for speaker in dict.fromkeys(speaker for speaker, _segment in turns):
        group = [i for i, (s, _segment) in enumerate(turns) if s == speaker]
        if group != groups[0]:
            groups.append(group)
    # Once more when cards were found: a card said late makes its earlier echoes known.
    for pass_ in range(2):
        if pass_ and not known_cards:
            break
        for group in groups:
            stream = _stream([segments[i].text for i in group])
            marks = _find(stream, known_cards)
            for start, end, kind in _spans(stream, marks):
                for position, i in enumerate(group):
                    base = stream.offsets[position]
                    limit = base + len(segments[i].text)
                    if start < limit and end > base:
                        spans_by_segment[i].append(
                            (max(start, base) - base, min(end, limit) - base, kind)
                        )
    return [
        _apply(segment, spans) for segment, spans in zip(segments, spans_by_segment, strict=True)
    ]


def redactions_in_text(segment: Segment) -> list[Redaction]:
    """The redactions of a segment already redacted, read back from its markers (for a
    stored line redacted again with newer context); times from the marker words."""
    found = sorted(
        (m.start(), m.end(), kind)
        for kind, marker in MARKERS.items()
        for m in re.finditer(re.escape(marker), segment.text)
    )
    marker_words = [w for w in segment.words if w.text in _MARKER_KINDS]
    timed = len(marker_words) == len(found)
    return [
        Redaction(
            kind,
            start,
            end,
            marker_words[n].start if timed else None,
            marker_words[n].end if timed else None,
        )
        for n, (start, end, kind) in enumerate(found)
    ]


def redact_text(text: str) -> tuple[str, list[Redaction]]:
    """One piece of text on its own (an export line, a partial live line)."""
    (result,) = redact_conversation([("", Segment(start=0.0, end=0.0, text=text))])
    return result.segment.text, list(result.redactions)


def transcript_redact(turns: Sequence[tuple[str, Segment]]) -> list[RedactedSegment]:
    """The redactor in force: ``TRANSCRIPT_REDACTOR`` when set, else :func:`redact_conversation`."""
    path = getattr(settings, "TRANSCRIPT_REDACTOR", "") or _DEFAULT
    redactor = import_string(path)
    return list(redactor(turns))


_DEFAULT = "streaming.transcription.redaction.redact_conversation"
