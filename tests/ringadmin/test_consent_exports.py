"""Exports: neutralised CSV cells (property test), signed manifests that fail on any changed
byte (also through ``manage.py export_verify``)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command
from hypothesis import given
from hypothesis import strategies as st

from ringadmin.compliance.exports import (
    FORMULA_TRIGGERS,
    csv_cell,
    csv_lines,
    manifest_build,
    manifest_problems,
)


@given(st.lists(st.text(max_size=40), min_size=1, max_size=6))
def test_no_csv_cell_can_start_a_formula_and_none_loses_text(cells: list[str]) -> None:
    header = [f"c{i}" for i in range(len(cells))]
    text = "".join(csv_lines(header, [dict(zip(header, cells, strict=True))]))
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == header
    assert len(rows) == 2
    for original, read in zip(cells, rows[1], strict=True):
        assert not read.startswith(FORMULA_TRIGGERS)
        assert read in (original, "'" + original)
        assert (read != original) == original.startswith(FORMULA_TRIGGERS)


@pytest.mark.parametrize("value", ["=1+1", "+cmd", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_each_formula_trigger_is_prefixed(value: str) -> None:
    assert csv_cell(value) == "'" + value


def _manifest(content: bytes) -> dict:
    import hashlib

    return manifest_build(
        export_id="e1",
        kind="consent",
        export_format="csv",
        rows=2,
        sha256=hashlib.sha256(content).hexdigest(),
        filters={"outcome": "no_notice"},
        who="aud",
        when=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )


CONTENT = b"a,b\r\n1,2\r\n3,4\r\n"


def test_a_manifest_matches_its_file_and_any_changed_byte_fails() -> None:
    manifest = _manifest(CONTENT)
    assert manifest_problems(manifest=manifest, file_bytes=[CONTENT]) == []
    for index in range(len(CONTENT)):
        changed = bytearray(CONTENT)
        changed[index] ^= 0x01
        assert manifest_problems(manifest=manifest, file_bytes=[bytes(changed)])


def test_a_changed_manifest_fails_its_signature() -> None:
    manifest = {**_manifest(CONTENT), "rows": 3}
    problems = manifest_problems(manifest=manifest, file_bytes=[CONTENT])
    assert any("signature" in p for p in problems)


def test_export_verify_command(tmp_path) -> None:
    import json

    data = tmp_path / "log.csv"
    data.write_bytes(CONTENT)
    manifest = tmp_path / "log.manifest.json"
    manifest.write_text(json.dumps(_manifest(CONTENT)))
    out = io.StringIO()
    call_command("export_verify", str(data), str(manifest), stdout=out)
    assert "OK: 2 rows" in out.getvalue()
    data.write_bytes(CONTENT[:-1] + b"5")
    with pytest.raises(CommandError, match="SHA-256"):
        call_command("export_verify", str(data), str(manifest))
    manifest.write_text("not json")
    with pytest.raises(CommandError, match="manifest"):
        call_command("export_verify", str(data), str(manifest))


def test_the_key_comes_from_settings_or_is_derived(settings) -> None:
    settings.EXPORT_SIGNING_KEY = ""
    derived = _manifest(CONTENT)["signature"]
    settings.EXPORT_SIGNING_KEY = "another-key"
    configured = _manifest(CONTENT)["signature"]
    assert derived != configured
    settings.EXPORT_SIGNING_KEY = ""
    assert manifest_problems(manifest={**_manifest(CONTENT)}, file_bytes=[CONTENT]) == []
