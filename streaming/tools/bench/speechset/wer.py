"""Word error rate: ``normalize_text`` turns a transcript into comparable words (digits
spelled out, contractions expanded, fillers dropped), and ``word_error_rate`` /
``word_error_counts`` score a hypothesis against a reference."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import NamedTuple

_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)  # fmt: skip
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_ORDINAL_WORDS = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}  # fmt: skip
_SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"))

_CONTRACTIONS = {
    "won't": "will not", "can't": "can not", "cannot": "can not", "shan't": "shall not",
    "ain't": "is not", "let's": "let us", "y'all": "you all", "it's": "it is",
    "that's": "that is", "there's": "there is", "here's": "here is", "what's": "what is",
    "who's": "who is", "where's": "where is", "when's": "when is", "why's": "why is",
    "how's": "how is", "he's": "he is", "she's": "she is",
}  # fmt: skip
_SUFFIXES = (("n't", " not"), ("'re", " are"), ("'ve", " have"), ("'ll", " will"),
             ("'d", " would"), ("'m", " am"))  # fmt: skip
_SPELLINGS = {"mr": "mister", "mrs": "missus", "ok": "okay", "alright": "all right"}
_FILLERS = frozenset({"uh", "um", "umm", "uhm", "er", "erm", "ah", "hmm", "mm", "mhm"})


def number_to_words(number: int) -> str:
    """A cardinal in words, American style without "and": 105 → "one hundred five"."""
    if number < 0:
        return "minus " + number_to_words(-number)
    if number < 20:
        return _ONES[number]
    if number < 100:
        tens, ones = divmod(number, 10)
        return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")
    if number < 1000:
        hundreds, rest = divmod(number, 100)
        return f"{_ONES[hundreds]} hundred" + (f" {number_to_words(rest)}" if rest else "")
    for scale, name in _SCALES:
        if number >= scale:
            high, rest = divmod(number, scale)
            return f"{number_to_words(high)} {name}" + (f" {number_to_words(rest)}" if rest else "")
    raise AssertionError("unreachable")


def _ordinal(number: int) -> str:
    words = number_to_words(number).split()
    last = words[-1]
    if last in _ORDINAL_WORDS:
        words[-1] = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def _digits(text: str) -> str:
    return " ".join(_ONES[int(d)] for d in text if d.isdigit())


def _integer(token: str) -> str:
    """Short numbers as cardinals; long ones (codes, account and phone numbers) digit by digit,
    except round thousands ("2000")."""
    if len(token) <= 3 and not (len(token) > 1 and token[0] == "0"):
        return number_to_words(int(token))
    if len(token) <= 7 and token[0] != "0" and token.endswith("000"):
        return number_to_words(int(token))
    return _digits(token)


def _numbers(text: str) -> str:
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 1,000 → 1000
    text = re.sub(r"\$(\d+)\b(?!\.\d)", r"\1 dollars", text)
    text = re.sub(r"£(\d+)\b(?!\.\d)", r"\1 pounds", text)
    text = re.sub(r"€(\d+)\b(?!\.\d)", r"\1 euros", text)
    # Groups of digits in a row ("0770 900 1234", "555-1234", "4.8.2"): read digit by digit.
    text = re.sub(
        r"\b\d+(?:(?:[ \-]+|\.(?=\d+\.))\d+)+\b", lambda m: " " + _digits(m.group()) + " ", text
    )
    text = re.sub(r"\b(\d+)(st|nd|rd|th)\b", lambda m: " " + _ordinal(int(m.group(1))) + " ", text)
    text = re.sub(
        r"\b(\d+)\.(\d+)\b",
        lambda m: f" {_integer(m.group(1))} point {_digits(m.group(2))} ",
        text,
    )
    return re.sub(r"\b\d+\b", lambda m: " " + _integer(m.group()) + " ", text)


def normalize_text(text: str) -> str:
    """Text → lowercase words for scoring: punctuation dropped, digits spelled out
    ("10" = "ten", "1234" = "one two three four"), contractions expanded ("I'm" = "I am"),
    hyphenated words split, a few spellings unified ("Mr" = "mister"), fillers ("um")
    dropped, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = re.sub(r"\b([ap])\.\s?m\b\.?", r"\1m", text)
    text = re.sub(r"\be-mail", "email", text)
    text = text.replace("&", " and ").replace("%", " percent").replace("+", " plus ")
    text = _numbers(text)
    text = re.sub(r"[^a-z0-9']+", " ", text)
    words: list[str] = []
    for raw in text.split():
        token = raw.strip("'")
        if not token:
            continue
        if token in _CONTRACTIONS:
            token = _CONTRACTIONS[token]
        else:
            for suffix, replacement in _SUFFIXES:
                if token.endswith(suffix) and len(token) > len(suffix):
                    token = token[: -len(suffix)] + replacement
                    break
        for word in token.replace("'", "").split():
            word = _SPELLINGS.get(word, word)
            if word not in _FILLERS:
                words.extend(word.split())
    return " ".join(words)


class ErrorCounts(NamedTuple):
    """Word errors of a hypothesis against a reference; sum them for a corpus WER."""

    substitutions: int
    deletions: int
    insertions: int
    reference_words: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float:
        if self.reference_words == 0:
            return 0.0 if self.insertions == 0 else 1.0
        return self.errors / self.reference_words

    def plus(self, other: ErrorCounts) -> ErrorCounts:
        return ErrorCounts(*(a + b for a, b in zip(self, other, strict=True)))


def edit_counts(reference: Sequence[str], hypothesis: Sequence[str]) -> ErrorCounts:
    """Levenshtein alignment of two word lists: the fewest substitutions + deletions +
    insertions, and of those alignments the one with the fewest substitutions."""
    ref, hyp = list(reference), list(hypothesis)
    total = len(ref)
    head = 0  # common ends cost nothing: leave them out of the table
    while head < min(len(ref), len(hyp)) and ref[head] == hyp[head]:
        head += 1
    tail = 0
    while tail < min(len(ref), len(hyp)) - head and ref[-1 - tail] == hyp[-1 - tail]:
        tail += 1
    ref, hyp = ref[head : len(ref) - tail], hyp[head : len(hyp) - tail]
    # Each cell: (errors, substitutions, deletions, insertions); tuples compare in that order.
    previous = [(j, 0, 0, j) for j in range(len(hyp) + 1)]
    for i, word in enumerate(ref, start=1):
        current = [(i, 0, i, 0)]
        for j, other in enumerate(hyp, start=1):
            e, s, d, n = previous[j - 1]
            diagonal = (e, s, d, n) if word == other else (e + 1, s + 1, d, n)
            e, s, d, n = previous[j]
            deletion = (e + 1, s, d + 1, n)
            e, s, d, n = current[j - 1]
            insertion = (e + 1, s, d, n + 1)
            current.append(min(diagonal, deletion, insertion))
        previous = current
    _, substitutions, deletions, insertions = previous[-1]
    return ErrorCounts(substitutions, deletions, insertions, total)


def word_error_counts(reference: str, hypothesis: str, *, normalize: bool = True) -> ErrorCounts:
    """``(substitutions, deletions, insertions, reference_words)`` after ``normalize_text``."""
    if normalize:
        reference, hypothesis = normalize_text(reference), normalize_text(hypothesis)
    return edit_counts(reference.split(), hypothesis.split())


def word_error_rate(reference: str, hypothesis: str, *, normalize: bool = True) -> float:
    """(substitutions + deletions + insertions) / reference words, after normalisation.

    An empty reference scores 0.0 against an empty hypothesis and 1.0 against anything else.
    """
    return word_error_counts(reference, hypothesis, normalize=normalize).wer


def corpus_error_counts(pairs: Iterable[tuple[str, str]], *, normalize: bool = True) -> ErrorCounts:
    """Error counts summed over ``(reference, hypothesis)`` pairs."""
    total = ErrorCounts(0, 0, 0, 0)
    for reference, hypothesis in pairs:
        total = total.plus(word_error_counts(reference, hypothesis, normalize=normalize))
    return total


def corpus_word_error_rate(pairs: Iterable[tuple[str, str]], *, normalize: bool = True) -> float:
    """Corpus WER: all errors over all reference words (long utterances weigh more)."""
    return corpus_error_counts(pairs, normalize=normalize).wer
