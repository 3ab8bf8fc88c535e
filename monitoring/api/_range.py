"""A file served whole or as one byte range (``Range: bytes=…``), for audio players.

Temporary home: the call page's Range-serving function will replace this module, and the API
will call it instead. One range per request: a header this does not understand (another unit,
several ranges, bad syntax) is ignored and the whole file is sent, as RFC 9110 allows; a
well-formed range outside the file is a 416.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse

CHUNK_BYTES = 64 * 1024
MAX_RANGE_HEADER = 200
_SINGLE_RANGE = re.compile(r"bytes[ \t]*=[ \t]*([0-9]{0,19})[ \t]*-[ \t]*([0-9]{0,19})[ \t]*")


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range

    @property
    def length(self) -> int:
        return self.end - self.start + 1


class RangeNotSatisfiable(ValueError):
    """A well-formed range that selects nothing of the file."""


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The range of ``size`` bytes the header asks for; ``None`` to send everything."""
    if not header or len(header) > MAX_RANGE_HEADER:
        return None
    match = _SINGLE_RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # bytes=-N: the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(header)
        return ByteRange(max(size - suffix, 0), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # invalid: ignored
    if start >= size:
        raise RangeNotSatisfiable(header)
    return ByteRange(start, min(end, size - 1))


def _chunks(handle: BinaryIO, start: int, length: int) -> Iterator[bytes]:
    try:
        handle.seek(start)
        remaining = length
        while remaining > 0:
            block = handle.read(min(CHUNK_BYTES, remaining))
            if not block:
                break
            remaining -= len(block)
            yield block
    finally:
        handle.close()


def ranged_file_response(
    *,
    path: Path,
    range_header: str | None,
    content_type: str,
    filename: str,
    as_attachment: bool = False,
) -> HttpResponseBase:
    """200 with the whole file, 206 with the range asked for, or 416 (``Content-Range: */size``)."""
    handle = path.open("rb")
    size = os.fstat(handle.fileno()).st_size
    try:
        wanted = parse_range(range_header, size)
    except RangeNotSatisfiable:
        handle.close()
        refused = HttpResponse(status=416)
        refused["Content-Range"] = f"bytes */{size}"
        refused["Accept-Ranges"] = "bytes"
        return refused
    part = wanted or ByteRange(0, size - 1)
    response = StreamingHttpResponse(
        _chunks(handle, part.start, max(part.length, 0)),
        status=206 if wanted else 200,
        content_type=content_type,
    )
    response["Content-Length"] = str(max(part.length, 0))
    response["Accept-Ranges"] = "bytes"
    if wanted:
        response["Content-Range"] = f"bytes {part.start}-{part.end}/{size}"
    disposition = "attachment" if as_attachment else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response
