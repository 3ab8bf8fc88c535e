"""Whisper's repetition loops, caught before a line is shown or stored (pure Python).

A decoder that loses its place repeats itself: one stored line held "can I help you" 34 times.
People repeat themselves too ("no, no, no"; "thank you, thank you"), but not a phrase many
times in a row, nor a handful of words over and over in one breath. So:

- a run of one word, or of one phrase of up to ``max_ngram`` words, repeated more times in a
  row than a person would (``allowed_copies``) is collapsed to its first copy;
- a long segment whose three-word sequences are still mostly repeats after that (a loop with
  variations: "I can tell you can make I can I can …") is dropped.

Applied to every engine's segments (hosted ones loop too), and idempotent, so applying it again
downstream changes nothing. Words are compared without case or punctuation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from streaming.transcription.engines.base import Segment

_PUNCTUATION = re.compile(r"[^\w']+|^'+|'+$")


@dataclass(frozen=True)
class RepetitionLimits:
    max_ngram: int = 8  # longest phrase (words) whose back-to-back copies are looked for
    single_word_copies: int = 4  # "no no no no" is speech; a fifth is a loop
    two_word_copies: int = 3
    phrase_copies: int = 2  # three words or more: twice is speech ("how are you, how are you")
    loop_min_words: int = 16  # shorter segments are never dropped as loops
    loop_max_repeated: float = 0.5  # share of repeated three-word sequences that is a loop

    def allowed_copies(self, n: int) -> int:
        if n == 1:
            return self.single_word_copies
        return self.two_word_copies if n == 2 else self.phrase_copies


DEFAULT_LIMITS = RepetitionLimits()


def normalize_word(word: str) -> str:
    return _PUNCTUATION.sub("", word.lower())


def kept_after_collapsing(
    words: Sequence[str], limits: RepetitionLimits = DEFAULT_LIMITS
) -> list[int]:
    """Indices of ``words`` to keep once over-long runs of a repeated n-gram are collapsed."""
    keys = [normalize_word(w) for w in words]
    kept = list(range(len(keys)))
    changed = True
    while changed:  # a collapse can bring two copies of a shorter n-gram together
        changed = False
        current = [keys[i] for i in kept]
        out: list[int] = []
        i = 0
        while i < len(current):
            skip = _run_to_drop(current, i, limits)
            if skip:
                n, copies = skip
                out.extend(kept[i : i + n])
                i += n * copies
                changed = True
            else:
                out.append(kept[i])
                i += 1
        kept = out
    return kept


def _run_to_drop(keys: list[str], start: int, limits: RepetitionLimits) -> tuple[int, int] | None:
    """(n, copies) of the shortest n-gram at ``start`` repeated beyond its allowance, or None."""
    for n in range(1, limits.max_ngram + 1):
        if start + 2 * n > len(keys):
            break
        gram = keys[start : start + n]
        copies = 1
        while keys[start + copies * n : start + (copies + 1) * n] == gram:
            copies += 1
        if copies > limits.allowed_copies(n):
            return n, copies
    return None


def is_loop(words: Sequence[str], limits: RepetitionLimits = DEFAULT_LIMITS) -> bool:
    """A long run of words that mostly repeats its own three-word sequences."""
    keys = [normalize_word(w) for w in words]
    if len(keys) < limits.loop_min_words:
        return False
    grams = [tuple(keys[i : i + 3]) for i in range(len(keys) - 2)]
    repeated = len(grams) - len(set(grams))
    return repeated / len(grams) > limits.loop_max_repeated


def text_without_repeats(text: str, limits: RepetitionLimits = DEFAULT_LIMITS) -> str:
    """``text`` with its loops collapsed; empty when what is left is still a loop."""
    words = text.split()
    kept = kept_after_collapsing(words, limits)
    if len(kept) == len(words):
        return "" if is_loop(words, limits) else text
    words = [words[i] for i in kept]
    return "" if is_loop(words, limits) else " ".join(words)


def segment_without_repeats(
    segment: Segment, limits: RepetitionLimits = DEFAULT_LIMITS
) -> Segment | None:
    """The segment with its loops collapsed (text and words alike), or None if it is a loop."""
    text = text_without_repeats(segment.text, limits)
    if not text.strip():
        return None
    words = segment.words
    if words:
        words = tuple(words[i] for i in kept_after_collapsing([w.text for w in words], limits))
    if text == segment.text and len(words) == len(segment.words):
        return segment
    return replace(segment, text=text, words=words)


def segments_without_repeats(
    segments: Sequence[Segment], limits: RepetitionLimits = DEFAULT_LIMITS
) -> list[Segment]:
    return [s for s in (segment_without_repeats(s, limits) for s in segments) if s is not None]
