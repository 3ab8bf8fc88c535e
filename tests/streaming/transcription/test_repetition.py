"""The repeated n-gram check that every engine's segments pass before they are stored."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from streaming.transcription.engines.base import Segment, Word
from streaming.transcription.repetition import (
    DEFAULT_LIMITS,
    kept_after_collapsing,
    normalize_word,
    segment_without_repeats,
    segments_without_repeats,
    text_without_repeats,
)

# --- examples seen in stored live transcripts ---------------------------------------------------


def test_a_phrase_looped_34_times_is_collapsed_to_one() -> None:
    assert text_without_repeats("Can I help you? " * 34) == "Can I help you?"
    assert text_without_repeats("Hello, " + "can I help you " * 34 + "today") == (
        "Hello, can I help you today"
    )


def test_a_loop_with_variations_is_dropped() -> None:
    looped = (
        "I can tell you can make I can I can I tell you can make I can I can I can you can make "
        + "I can I can I can you can make " * 6
    )
    assert text_without_repeats(looped) == ""


def test_what_people_say_is_kept() -> None:
    for text in (
        "no no no",
        "no, no, no, no",
        "thank you thank you",
        "thank you, thank you, thank you",
        "how are you how are you",
        "that's 5 5 5 1 2 3 4",
        "And Mr. John Dashwood had then leisure to consider how much there might be prudently "
        "in his power to do for them.",
        "Hi, I would like to cancel my subscription please.",
        "Yes. Yes. Okay. Yes, that's right, yes.",
    ):
        assert text_without_repeats(text) == text


def test_repeats_are_compared_without_case_or_punctuation() -> None:
    assert text_without_repeats("Okay. okay, OKAY! Okay? okay...") == "Okay."
    assert normalize_word("'You?'") == "you"
    assert normalize_word("don't") == "don't"


def test_a_collapse_that_brings_copies_together_is_collapsed_too() -> None:
    # removing the run of "a" leaves "x a" three times... which is speech (two words, 3 copies)
    assert text_without_repeats("x a a a a a x a x a") == "x a x a x a"
    # ...a fourth is not
    assert text_without_repeats("x a a a a a x a x a x a") == "x a"


def test_words_follow_the_text_and_keep_their_times() -> None:
    spoken = ["hello", *["can", "I", "help", "you"] * 3]
    words = tuple(Word(start=i * 0.3, end=i * 0.3 + 0.25, text=t) for i, t in enumerate(spoken))
    segment = Segment(0.0, 4.0, " ".join(w.text for w in words), 0.8, words)
    cleaned = segment_without_repeats(segment)
    assert cleaned.text == "hello can I help you"
    assert [w.text for w in cleaned.words] == ["hello", "can", "I", "help", "you"]
    assert cleaned.words == words[:5]
    assert (cleaned.start, cleaned.end, cleaned.confidence) == (0.0, 4.0, 0.8)


def test_a_clean_segment_is_returned_as_it_is_and_a_loop_is_dropped() -> None:
    clean = Segment(1.0, 2.0, " Thank you for calling.")
    collapsed = Segment(3.0, 9.0, "you can make I can " * 12)
    loop = Segment(9.0, 12.0, "I can you can make I can I can I tell you can make " * 3)
    assert segment_without_repeats(clean) is clean
    assert segments_without_repeats([clean, collapsed, loop]) == [
        clean,
        Segment(3.0, 9.0, "you can make I can"),
    ]


# --- properties -----------------------------------------------------------------------------------

WORDS = st.sampled_from(["can", "I", "help", "you", "no", "yes", "the", "a", "Okay,", "you?", "5"])
TEXTS = st.lists(WORDS, max_size=60).map(" ".join)


@given(TEXTS)
@settings(max_examples=300, deadline=None)
def test_the_check_is_idempotent_and_only_removes_words(text: str) -> None:
    once = text_without_repeats(text)
    assert text_without_repeats(once) == once
    remaining = iter(text.split())
    assert all(word in remaining for word in once.split())  # a subsequence of the input


@given(st.lists(WORDS, max_size=60))
@settings(max_examples=300, deadline=None)
def test_no_run_longer_than_allowed_is_left(words: list[str]) -> None:
    keys = [normalize_word(words[i]) for i in kept_after_collapsing(words)]
    for n in range(1, DEFAULT_LIMITS.max_ngram + 1):
        allowed = DEFAULT_LIMITS.allowed_copies(n)
        for start in range(len(keys)):
            gram = keys[start : start + n]
            copies = 1
            while keys[start + copies * n : start + (copies + 1) * n] == gram:
                copies += 1
            assert copies <= allowed or len(gram) < n


@given(
    prefix=st.lists(st.text("abcdefgh", min_size=1, max_size=6), max_size=5, unique=True),
    phrase=st.lists(st.text("ijklmnop", min_size=1, max_size=6), min_size=1, max_size=8),
    copies=st.integers(min_value=5, max_value=40),
)
@settings(max_examples=200, deadline=None)
def test_any_looped_phrase_is_collapsed_and_what_came_before_kept(
    prefix: list[str], phrase: list[str], copies: int
) -> None:
    text = " ".join(prefix + phrase * copies)
    result = text_without_repeats(text).split()
    assert result[: len(prefix)] == prefix
    assert len(result) <= len(prefix) + len(phrase) * DEFAULT_LIMITS.two_word_copies
    assert len(result) < len(text.split())


@given(st.lists(st.text(min_size=1, max_size=12).filter(str.strip), unique=True, max_size=80))
@settings(max_examples=200, deadline=None)
def test_words_that_never_repeat_are_left_alone(words: list[str]) -> None:
    words = [w for w in words if w.split() == [w]]
    keys = [normalize_word(w) for w in words]
    if len(set(keys)) < len(keys):
        return  # two spellings of one word: not "never repeated"
    text = " ".join(words)
    assert text_without_repeats(text) == text
