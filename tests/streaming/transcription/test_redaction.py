"""Redaction of card numbers, security codes and SSNs in transcript text (pure: no database)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn

from streaming.transcription.engines.base import Segment, Word
from streaming.transcription.redaction import (
    CARD,
    CVV,
    MARKERS,
    SSN,
    _luhn_valid,
    _runs,
    _tokens,
    redact_conversation,
    redact_text,
)

CARD_MARK, CVV_MARK, SSN_MARK = MARKERS[CARD], MARKERS[CVV], MARKERS[SSN]


def redacted(text: str) -> str:
    return redact_text(text)[0]


@pytest.mark.parametrize(
    "said",
    [
        # 4111 1111 1111 1111, digit by digit
        "four one one one one one one one one one one one one one one one",
        # the same in groups of four with commas, "double" and mixed with digits
        "four one one one, one one one one, one one one one, one one one one",
        "four one one one, double one double one, 1111, one one one one",
        # 5555 5555 5555 4444
        "double five double five, double five double five, double five double five, "
        "double four double four",
        # 4000 0566 5566 5556 with "oh" for zero
        "four oh oh oh, oh five six six, five five six six, five five five six",
        # 3782 822463 10005 (15 digits), tens spoken as numbers
        "thirty seven eighty two, eight two two four six three, ten oh oh five",
        # written
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "4111111111111111",
        "4012 8888 8888 1881",
        "3782-822463-10005",
    ],
)
def test_a_card_number_spoken_or_written_is_redacted(said: str) -> None:
    text, found = redact_text(f"sure, my card number is {said} thanks")
    assert text == f"sure, my card number is {CARD_MARK} thanks"
    assert [r.kind for r in found] == [CARD]
    assert text[found[0].start : found[0].end] == CARD_MARK


@pytest.mark.parametrize(
    "said",
    [
        "4111 1111 1111 1112",  # Luhn-invalid
        "four one one one one one one one one one one one one one one three",
        "call me back on 650 555 1234",
        "my phone is six five oh, five five five, one two three four",
        "the order number is 123456789012",  # 12 digits
        "order 4417 1234 5678 9112 was shipped",  # 16 digits, Luhn-invalid
        "it comes to $1,234.56 on 12/03/2026",
        "that's two hundred and forty nine dollars ninety nine",
        "I have 123 apples and 4567 oranges",
        "it happened in 1999 or 2003",
    ],
)
def test_ordinary_numbers_and_luhn_invalid_runs_are_left_alone(said: str) -> None:
    assert redact_text(said) == (said, [])


def test_a_security_code_after_card_context_is_redacted() -> None:
    for said, code in [
        ("and the security code is 123", "123"),
        ("what's the CVV? It's four two one", "four two one"),
        ("the CVC is 7 3 4 5", "7 3 4 5"),
        ("the three digits on the back are nine nine eight", "nine nine eight"),
    ]:
        text, found = redact_text(said)
        assert text == said.replace(code, CVV_MARK), said
        assert [r.kind for r in found] == [CVV]


def test_a_three_digit_number_without_card_context_is_left_alone() -> None:
    for said in ["my flat is 123", "I waited 450 minutes", "room four two one please"]:
        assert redact_text(said) == (said, [])


def test_a_security_code_far_from_its_context_is_left_alone() -> None:
    said = (
        "the security code is on the card but first let me check your address which is "
        "number 221 on the main road"
    )
    assert redacted(said) == said


def test_a_security_code_right_after_the_card_number_is_redacted() -> None:
    assert redacted("4111 1111 1111 1111 123") == f"{CARD_MARK} {CVV_MARK}"


def test_ssns_written_or_spoken_after_context_are_redacted() -> None:
    assert redacted("it is 536-22-1234 I think") == f"it is {SSN_MARK} I think"
    assert redacted("my social is five three six two two one two three four") == (
        f"my social is {SSN_MARK}"
    )
    assert redacted("SSN: 536221234") == f"SSN: {SSN_MARK}"


def test_nine_digits_that_cannot_be_an_ssn_or_have_no_context_are_left_alone() -> None:
    for said in [
        "my social is 000-22-1234",  # area 000 is never issued
        "my social is 666 22 1234",
        "the tracking number is 536221234",  # no SSN context, not grouped 3-2-4
    ]:
        assert redacted(said) == said


def conversation(*turns: tuple[str, str]) -> list[str]:
    segments = [
        (speaker, Segment(start=float(n), end=n + 0.9, text=text))
        for n, (speaker, text) in enumerate(turns)
    ]
    return [r.segment.text for r in redact_conversation(segments)]


def test_a_card_number_split_across_two_turns_is_redacted_in_both() -> None:
    assert conversation(
        ("caller", "it's four one one one one one one one"),
        ("caller", "one one one one one one one one"),
    ) == [f"it's {CARD_MARK}", CARD_MARK]


def test_a_number_interrupted_by_the_other_speaker_is_redacted() -> None:
    assert conversation(
        ("caller", "four one one one one one one one"),
        ("agent", "mm-hmm"),
        ("caller", "one one one one one one one one"),
    ) == [CARD_MARK, "mm-hmm", CARD_MARK]


def test_a_number_finished_by_the_other_speaker_is_redacted_on_both() -> None:
    assert conversation(
        ("caller", "four one one one one one one one"),
        ("agent", "one one one one one one one one?"),
    ) == [CARD_MARK, f"{CARD_MARK}?"]


def test_the_agent_reading_the_number_back_is_redacted_even_in_part() -> None:
    assert conversation(
        ("caller", "4111 1111 1111 1111"),
        ("agent", "so that's 4111 1111 1111 1111"),
        ("agent", "the card ending 1111 1111, right?"),
        ("caller", "and my zip is 94107"),
    ) == [
        CARD_MARK,
        f"so that's {CARD_MARK}",
        f"the card ending {CARD_MARK}, right?",
        "and my zip is 94107",
    ]


def test_a_security_code_in_the_turn_after_its_question_is_redacted() -> None:
    assert conversation(
        ("agent", "and the security code on the back?"),
        ("caller", "seven three one"),
    ) == ["and the security code on the back?", CVV_MARK]


def test_redaction_keeps_kind_offsets_and_time_and_redacts_the_words() -> None:
    spoken = "card four one one one one one one one one one one one one one one one ok"
    words = tuple(
        Word(start=n * 0.5, end=n * 0.5 + 0.4, text=w) for n, w in enumerate(spoken.split())
    )
    (result,) = redact_conversation([("caller", Segment(0.0, 9.0, spoken, words=words))])
    assert result.segment.text == f"card {CARD_MARK} ok"
    (redaction,) = result.redactions
    assert redaction.to_dict() == {
        "kind": CARD,
        "start": 5,
        "end": 5 + len(CARD_MARK),
        "time_start": 0.5,
        "time_end": 8.4,
    }
    assert [w.text for w in result.segment.words] == ["card", CARD_MARK, "ok"]
    assert result.original is not None
    assert result.original.text == spoken


def test_words_that_do_not_line_up_with_the_text_are_dropped_when_something_is_redacted() -> None:
    words = (Word(0.0, 1.0, "something else"),)
    (result,) = redact_conversation([("caller", Segment(0.0, 1.0, "4111111111111111", words))])
    assert result.segment.words == ()


# --- properties ---------------------------------------------------------------------------------

# Digit groups with only separators between them: one number as written.
_WRITTEN_RUN = re.compile("[0-9]+(?:[\\s,.\\-\u2013\u2014]*[0-9]+)*")


def _luhn_windows(groups: list[str]) -> list[str]:
    """Luhn-valid stretches of 13-19 digits made of whole groups."""
    found = []
    for first in range(len(groups)):
        for last in range(first + 1, len(groups) + 1):
            digits = "".join(groups[first:last])
            if 13 <= len(digits) <= 19 and luhn.is_valid(digits):
                found.append(digits)
    return found


def _spoken_windows(text: str) -> list[str]:
    tokens = _tokens(text, [])
    found = []
    for run in _runs(text, tokens):
        found += _luhn_windows([tokens[i].digits for i in run])
    return found


_pieces = st.one_of(
    st.sampled_from(
        ["4111", "1111", "4", "1", "0", "5555", "4444", "37828", "22463", "10005", "123"]
    ),
    st.sampled_from(["one", "four", "oh", "double", "five", "forty", "seven", "zero"]),
    st.sampled_from([" ", " ", ", ", "-", ". ", "\n"]),
    st.sampled_from(["card", "cvv", "security code", "ssn", "my", "ok", "[", "x"]),
    st.text(max_size=4),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_pieces, max_size=40).map("".join))
def test_redaction_never_leaves_a_luhn_valid_card_number_and_stays_bounded(text: str) -> None:
    out, found = redact_text(text)
    written = [re.findall("[0-9]+", m.group()) for m in _WRITTEN_RUN.finditer(out)]
    assert not [w for groups in written for w in _luhn_windows(groups)]
    assert not _spoken_windows(out)
    assert len(out) <= len(text) + 12 * len(found)
    for r in found:
        assert out[r.start : r.end] == MARKERS[r.kind]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["agent", "caller"]), st.text(max_size=60)), max_size=6))
def test_any_conversation_is_redacted_without_crashing(turns) -> None:
    segments = [(s, Segment(float(n), n + 0.5, t)) for n, (s, t) in enumerate(turns)]
    results = redact_conversation(segments)
    assert len(results) == len(segments)
    for (_speaker, segment), result in zip(segments, results, strict=True):
        assert len(result.segment.text) <= len(segment.text) + 12 * len(result.redactions)


@given(st.text(alphabet="0123456789", min_size=1, max_size=25))
def test_the_inlined_luhn_check_agrees_with_stdnum(digits: str) -> None:
    assert _luhn_valid(digits) == luhn.is_valid(digits)
