"""Hypothesis strategies for hostile RingCX frames: every message of the schema (Connected,
Start, Media, Stop) with any JSON value in any field, extremes (huge strings and numbers, bools
for ints, deep nesting, NUL and control characters), values JSON cannot carry (NaN, infinity,
lone surrogates), frames cut short, and raw bytes."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import strategies as st

# Values a hostile sender picks on purpose, beside whatever hypothesis invents. All are valid
# JSON; what JSON cannot carry (NaN, infinity, numbers past a double, lone surrogates) is
# written into the encoded text by ``frames`` instead, so it does not drown every message.
EXTREME_NUMBERS = [
    0,
    -1,
    True,
    False,
    2**63,
    2**64 - 1,
    -(2**63) - 1,
    10**30,
    1e308,
    -1e308,
    5e-324,
    -0.0,
]
EXTREME_STRINGS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x7f\x1b[2J",
    "é" * 3,
    "日本",
    "\U0001f600",
    "0" * 5000,
    "9" * 20,
    "-5",
    "1e9",
    "A" * 70_000,
]
UNPARSEABLE = ["NaN", "Infinity", "-Infinity", "1" + "0" * 400, '"\\ud800"', '"\\udfff x"']

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=20) | st.sampled_from(
    EXTREME_STRINGS
)
numbers = (
    st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(EXTREME_NUMBERS)
)
leaves = st.none() | st.booleans() | numbers | text
json_values = st.recursive(
    leaves,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=12,
)
DEEP = "\x00deep\x00"  # placeholder, replaced in the encoded text by nesting this deep:
DEPTHS = (5, 50, 500, 990, 1000, 1023, 1024, 1100)
deep_values = st.sampled_from(DEPTHS).map(lambda depth: f"{DEEP}{depth}")


def weighted(common: st.SearchStrategy, rare: st.SearchStrategy, odds: int) -> st.SearchStrategy:
    """``rare`` about once in ``odds`` draws, else ``common`` (one_of weighs its branches
    alike, whatever is repeated)."""
    return st.integers(min_value=1, max_value=odds).flatmap(
        lambda draw: rare if draw == 1 else common
    )


any_value = weighted(json_values, deep_values, 20)

FIELD_ABSENT = object()


def field(valid: st.SearchStrategy) -> st.SearchStrategy:
    """A field: usually valid, else any JSON value, or absent."""
    return st.one_of(valid, valid, any_value, st.just(FIELD_ABSENT))


def _build(fields: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    message = {k: v for k, v in fields.items() if v is not FIELD_ABSENT}
    for key, value in extra.items():
        message.setdefault(key, value)
    return message


valid_media_payload = st.binary(min_size=1, max_size=320).map(
    lambda b: base64.b64encode(b).decode()
)
media_text = st.one_of(
    valid_media_payload,
    valid_media_payload.map(lambda s: s[:-1] + "é"),  # non-ASCII inside base64
    valid_media_payload.map(lambda s: s + "\x00"),
    st.sampled_from(["", "====", "AA", "A===", "////", "ÿÿÿÿ", "\ud800AAA"]),
)
perspectives = st.sampled_from(["Participant", "Conference", "participant", "CONFERENCE"])
sequences = st.integers(min_value=0, max_value=2**64 - 1) | st.integers(min_value=0).map(str)


def media_messages(sequence_ids: st.SearchStrategy | None = None) -> st.SearchStrategy[dict]:
    """Media messages; ``sequence_ids`` replaces the sequenceId field's strategy (valid or not,
    or FIELD_ABSENT)."""
    return st.builds(
        _build,
        st.fixed_dictionaries(
            {
                "event": st.just("Media"),
                "perspective": field(perspectives),
                "sequenceId": field(sequences) if sequence_ids is None else sequence_ids,
                "media": field(media_text),
                "sentAt": field(
                    st.floats(min_value=1.6e9, max_value=2e9) | st.sampled_from(EXTREME_NUMBERS)
                ),
            }
        ),
        st.dictionaries(text, any_value, max_size=2),
    )


def metadata_objects() -> st.SearchStrategy[dict]:
    return st.builds(
        _build,
        st.fixed_dictionaries(
            {
                "callId": field(text | st.integers()),
                "sessionId": field(text | st.integers()),
                "ani": field(text),
                "dnis": field(text),
                "accountId": field(text),
                "subaccountId": field(text),
                "rcAccountId": field(text),
                "agentId": field(text | st.integers()),
                "productType": field(st.sampled_from(["Queue", "Campaign", "QUEUE", "x"])),
                "productId": field(st.integers(min_value=0, max_value=10**6) | text),
                "contentType": field(st.sampled_from(["audio/x-mulaw", "audio/L16"]) | text),
                "sampleRateHertz": field(st.sampled_from([8000, 16000, "8000"]) | numbers),
                "secret": field(text),
                "token": field(text),
                "authorization": field(text),
                "duration": field(numbers),
                "end_time": field(
                    st.sampled_from(
                        [
                            "2026-11-21T10:00:01Z",
                            "0001-01-01T00:00:00-23:59",
                            "9999-12-31T23:59:59+23:59",
                            "9999-12-31T23:59:59-23:59",
                            "not a time",
                        ]
                    )
                    | text
                ),
            }
        ),
        st.dictionaries(text, any_value, max_size=3),
    )


def start_messages() -> st.SearchStrategy[dict]:
    return st.builds(
        _build,
        st.fixed_dictionaries(
            {
                "event": st.just("Start"),
                "metadata": field(metadata_objects()),
                "secret": field(text),
            }
        ),
        st.dictionaries(text, any_value, max_size=2),
    )


def stop_messages(perspective: st.SearchStrategy | None = None) -> st.SearchStrategy[dict]:
    return st.builds(
        _build,
        st.fixed_dictionaries(
            {
                "event": st.just("Stop"),
                "perspective": field(perspectives) if perspective is None else perspective,
                "metadata": field(metadata_objects()),
            }
        ),
        st.dictionaries(text, any_value, max_size=2),
    )


def connected_messages() -> st.SearchStrategy[dict]:
    return st.builds(
        _build,
        st.fixed_dictionaries(
            {
                "event": st.just("Connected"),
                "protocol": field(st.just("AgentSession")),
                "version": field(st.just("1.0.0")),
                "secret": field(text),
                "token": field(text),
            }
        ),
        st.dictionaries(text, any_value, max_size=2),
    )


def other_messages() -> st.SearchStrategy[Any]:
    return any_value | st.builds(
        _build, st.fixed_dictionaries({"event": any_value}), st.dictionaries(text, any_value)
    )


def encode(message: Any, ascii_only: bool) -> str:
    """JSON as a sender writes it, with nesting deeper than Python's own encoder allows."""
    text = json.dumps(message, ensure_ascii=ascii_only)
    for depth in DEPTHS:
        placeholder = json.dumps(f"{DEEP}{depth}", ensure_ascii=ascii_only)
        text = text.replace(placeholder, "[" * depth + "1" + "]" * depth)
    return text


def _poisoned(encoded: str, token: str, at: int) -> str:
    """``encoded`` with its ``at``-th ``null``, number or string value replaced by ``token``
    (NaN, a number past a double, a lone surrogate): text only a hostile sender writes."""
    colons = [i for i, c in enumerate(encoded) if c == ":"]
    if not colons:
        return token
    start = colons[at % len(colons)] + 1
    end = start
    while end < len(encoded) and encoded[end] not in ",}]":
        end += 1
    return encoded[:start] + " " + token + encoded[end:]


def frames(messages: st.SearchStrategy) -> st.SearchStrategy[str | bytes]:
    """Encoded messages; sometimes with one value JSON cannot carry, cut short, or as raw
    bytes (binary frames, bad UTF-8)."""
    encoded = st.builds(encode, messages, st.booleans())
    damaged = st.one_of(
        st.builds(_poisoned, encoded, st.sampled_from(UNPARSEABLE), st.integers(0, 30)),
        st.tuples(encoded, st.integers(min_value=0, max_value=50)).map(lambda t: t[0][: t[1]]),
        encoded.map(lambda s: s.encode("utf-8", "surrogatepass")),  # a lone surrogate: bad UTF-8
        encoded.map(lambda s: s.encode("utf-8", "surrogatepass")[:-1] + b"\xff"),
        st.binary(max_size=64),
    )
    return weighted(encoded, damaged, 4)


any_message = st.one_of(
    media_messages(), start_messages(), stop_messages(), connected_messages(), other_messages()
)
