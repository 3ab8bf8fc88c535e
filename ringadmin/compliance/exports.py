"""Exports auditors can trust: cells that cannot run as spreadsheet formulas, and a signed
manifest (row count, SHA-256 of the file, filters, who, when) checked by ``export_verify``.

Generic: the consent log uses it, the audit trail's exports can too.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from django.conf import settings

# A cell starting with one of these is read as a formula (or hides one) by spreadsheets.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_SIGNING_LABEL = b"ringadmin export manifest signing key v1"


def csv_cell(value: Any) -> str:
    """One cell as text, prefixed with ``'`` when a spreadsheet would take it for a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def csv_row(values: Iterable[Any]) -> str:
    """One CSV line (RFC 4180 quoting, CRLF) of neutralised cells."""

    class _Line:
        def write(self, value: str) -> str:
            return value

    return str(csv.writer(_Line()).writerow([csv_cell(v) for v in values]))


def csv_lines(header: list[str], rows: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    yield csv_row(header)
    for row in rows:
        yield csv_row(row.get(column) for column in header)


def jsonl_lines(rows: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(row, ensure_ascii=False, default=str) + "\n"


def signing_key() -> bytes:
    """``EXPORT_SIGNING_KEY``, or a key derived from ``SECRET_KEY`` for this one use."""
    configured = getattr(settings, "EXPORT_SIGNING_KEY", "")
    if configured:
        return configured.encode()
    return hmac.new(settings.SECRET_KEY.encode(), _SIGNING_LABEL, hashlib.sha256).digest()


def _canonical(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


class DigestingStream:
    """Wraps the lines of an export: counts the data rows and hashes every byte sent."""

    def __init__(self, lines: Iterable[str], *, header_lines: int = 0) -> None:
        self._lines = lines
        self._header_lines = header_lines
        self.sha256 = hashlib.sha256()
        self.rows = 0
        self.finished = False

    def __iter__(self) -> Iterator[bytes]:
        seen = 0
        for line in self._lines:
            data = line.encode()
            self.sha256.update(data)
            seen += 1
            yield data
        self.rows = max(0, seen - self._header_lines)
        self.finished = True


def manifest_build(
    *,
    export_id: str,
    kind: str,
    export_format: str,
    rows: int,
    sha256: str,
    filters: Mapping[str, Any],
    who: str,
    when: datetime,
) -> dict[str, Any]:
    """The manifest of one export file, with its HMAC-SHA256 signature."""
    body = {
        "export_id": export_id,
        "kind": kind,
        "format": export_format,
        "rows": rows,
        "sha256": sha256,
        "filters": dict(filters),
        "who": who,
        "when": when.isoformat(),
    }
    signature = hmac.new(signing_key(), _canonical(body), hashlib.sha256).hexdigest()
    return {**body, "signature": signature}


def manifest_problems(*, manifest: Mapping[str, Any], file_bytes: Iterable[bytes]) -> list[str]:
    """Why a file and its manifest do not match (empty: they do, and the manifest is ours)."""
    problems = []
    body = {k: v for k, v in manifest.items() if k != "signature"}
    expected = hmac.new(signing_key(), _canonical(body), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, str(manifest.get("signature", ""))):
        problems.append("the manifest's signature does not match (manifest changed or wrong key)")
    digest = hashlib.sha256()
    for chunk in file_bytes:
        digest.update(chunk)
    if digest.hexdigest() != manifest.get("sha256"):
        problems.append("the file's SHA-256 differs from the manifest's (the file changed)")
    return problems
