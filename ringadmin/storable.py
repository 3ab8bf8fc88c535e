"""Values from outside made storable, the same on SQLite and PostgreSQL.

PostgreSQL refuses NUL characters and lone surrogates in text and in jsonb, and NaN or
infinity in jsonb, where SQLite takes them all: one such character in one field made
PostgreSQL refuse the whole row. Values from outside may also be of any size and depth. What
the ingest writes passes through here first, so both databases store the same thing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from ringadmin.logging import REDACTED, is_secret_name

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"
ELLIPSIS = "…"


def storable_text(value: str, max_length: int | None = None) -> str:
    """``value`` with each NUL or lone surrogate replaced (U+FFFD) and, when longer than
    ``max_length``, cut with a trailing "…", so a shortened text never passes for a whole one."""
    if _UNSTORABLE.search(value):
        value = _UNSTORABLE.sub(REPLACEMENT, value)
    if max_length is not None and len(value) > max_length:
        value = value[: max_length - 1] + ELLIPSIS
    return value


_NOT_IN_IDENTIFIERS = re.compile("[\x00-\x1f\x7f\ud800-\udfff\ufffd]")


def has_control_characters(value: str) -> bool:
    """A control character, a lone surrogate or U+FFFD (what cleaning leaves of them): never
    part of an identifier."""
    return _NOT_IN_IDENTIFIERS.search(value) is not None


@dataclass(frozen=True)
class JsonLimits:
    max_depth: int = 4  # containers inside containers
    max_values: int = 400  # every value and key, counted together
    max_string: int = 2000  # characters per string (and 200 per key)


METADATA_LIMITS = JsonLimits()


def storable_json(value: Any, limits: JsonLimits = METADATA_LIMITS) -> tuple[Any, bool]:
    """A copy of ``value`` that both databases store alike, within ``limits``, with the values
    of secret-looking keys masked; and whether anything had to be cut or replaced (masking
    aside). Deeper containers become a short note, values past the budget are left out,
    non-finite numbers become ``None``."""
    budget = [limits.max_values]
    trimmed = [False]

    def text(item: str, max_length: int) -> str:
        clean = storable_text(item, max_length)
        if clean is not item:
            trimmed[0] = True
        return clean

    def copy(item: Any, depth: int) -> Any:
        budget[0] -= 1
        if isinstance(item, str):
            return text(item, limits.max_string)
        if item is None or isinstance(item, bool):
            return item
        if isinstance(item, int):
            if -(2**64) <= item <= 2**64:
                return item
            trimmed[0] = True
            return None
        if isinstance(item, float):
            if math.isfinite(item):
                return item
            trimmed[0] = True
            return None
        if isinstance(item, dict | list | tuple):
            if depth >= limits.max_depth:
                trimmed[0] = True
                return f"[nested deeper than {limits.max_depth} levels]"
            if isinstance(item, dict):
                result: dict[str, Any] = {}
                for key, child in item.items():
                    if budget[0] <= 0:
                        trimmed[0] = True
                        break
                    budget[0] -= 1
                    name = text(key if isinstance(key, str) else str(key), 200)
                    result[name] = REDACTED if is_secret_name(name) else copy(child, depth + 1)
                return result
            items = []
            for child in item:
                if budget[0] <= 0:
                    trimmed[0] = True
                    break
                items.append(copy(child, depth + 1))
            return items
        trimmed[0] = True
        return text(type(item).__name__, 100)

    return copy(value, 0), trimmed[0]
