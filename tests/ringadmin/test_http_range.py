"""The Range parser: the forms browsers send, the refusals, and any header at all."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ringadmin.http_range import ByteRange, RangeNotSatisfiable, parse_range


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-", 1000, ByteRange(0, 999)),
        ("bytes=0-99", 1000, ByteRange(0, 99)),
        ("bytes=500-599", 1000, ByteRange(500, 599)),
        ("bytes=900-5000", 1000, ByteRange(900, 999)),
        ("bytes=-100", 1000, ByteRange(900, 999)),
        ("bytes=-5000", 1000, ByteRange(0, 999)),
        ("BYTES = 10-19 ", 1000, ByteRange(10, 19)),
        ("bytes=999-999", 1000, ByteRange(999, 999)),
    ],
)
def test_single_ranges(header: str, size: int, expected: ByteRange) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize("header", [None, "items=0-5", "bytes", "bytes=0-1,5-9"])
def test_whole_file_when_no_single_byte_range_is_asked(header: str | None) -> None:
    assert parse_range(header, 1000) is None


@pytest.mark.parametrize(
    ("header", "size"),
    [
        ("bytes=1000-", 1000),
        ("bytes=5-2", 1000),
        ("bytes=-0", 1000),
        ("bytes=-", 1000),
        ("bytes=abc", 1000),
        ("bytes=1-2-3", 1000),
        ("bytes=0-", 0),
        ("bytes=-10", 0),
        ("bytes=" + "9" * 20 + "-", 1000),
        ("bytes=+1-5", 1000),
    ],
)
def test_unsatisfiable_or_malformed_is_refused(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, size)


@settings(max_examples=500, deadline=None)
@given(
    header=st.one_of(st.text(max_size=60), st.from_regex(r"bytes=\d{0,6}-\d{0,6}")),
    size=st.integers(0, 10**6),
)
def test_any_header_gives_a_range_inside_the_file_or_a_clear_answer(header: str, size: int) -> None:
    try:
        wanted = parse_range(header, size)
    except RangeNotSatisfiable:
        return
    if wanted is not None:
        assert 0 <= wanted.start <= wanted.end < size
        assert wanted.length == wanted.end - wanted.start + 1
        assert wanted.content_range(size) == f"bytes {wanted.start}-{wanted.end}/{size}"


@settings(max_examples=300, deadline=None)
@given(size=st.integers(1, 10**9), data=st.data())
def test_a_valid_range_is_answered_exactly(size: int, data) -> None:
    start = data.draw(st.integers(0, size - 1))
    end = data.draw(st.integers(start, size + 10))
    assert parse_range(f"bytes={start}-{end}", size) == ByteRange(start, min(end, size - 1))
    suffix = data.draw(st.integers(1, size + 10))
    assert parse_range(f"bytes=-{suffix}", size) == ByteRange(max(size - suffix, 0), size - 1)
