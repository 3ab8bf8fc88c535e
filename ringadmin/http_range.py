"""Serving a file with HTTP ``Range`` (RFC 9110 §14), so a browser can seek in a recording.

What is answered:

* no ``Range``, a unit other than ``bytes``, or several ranges (``bytes=0-1,5-9``): the whole
  file, ``200``. Several ranges are legal but no media player asks for them; answering the
  whole file is allowed by the RFC and avoids multipart bodies.
* one range, ``bytes=a-b``, ``bytes=a-`` or the suffix ``bytes=-n``: ``206`` with
  ``Content-Range: bytes a-b/size`` (``b`` past the end is cut to the end, ``n`` larger than
  the file means all of it).
* a malformed single range (``bytes=x``, ``bytes=5-2``, ``bytes=-0``, over 19 digits) or one
  starting at or past the end: ``416`` with ``Content-Range: bytes */size``.

Every answer says ``Accept-Ranges: bytes`` and its ``Content-Length``; bodies are read from
the open file in blocks, so memory does not grow with the file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header

READ_BLOCK = 64 * 1024
_SINGLE_RANGE = re.compile(r"([0-9]{0,19})-([0-9]{0,19})")


class RangeNotSatisfiable(ValueError):
    """The ``Range`` header asks for no byte of the file, or cannot be read."""


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one range to answer with ``206``; ``None`` to answer the whole file with ``200``;
    ``RangeNotSatisfiable`` to answer ``416``. ``header`` is the request's ``Range`` value."""
    if header is None:
        return None
    unit, separator, spec = header.strip().partition("=")
    if not separator or unit.strip().lower() != "bytes":
        return None
    if "," in spec:
        return None
    match = _SINGLE_RANGE.fullmatch(spec.strip())
    if match is None:
        raise RangeNotSatisfiable(f"malformed range {header[:80]!r}")
    first, last = match.groups()
    if not first:
        if not last or int(last) == 0:
            raise RangeNotSatisfiable("empty suffix range")
        if size == 0:
            raise RangeNotSatisfiable("the file is empty")
        return ByteRange(max(size - int(last), 0), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        raise RangeNotSatisfiable("the range ends before it starts")
    if start >= size:
        raise RangeNotSatisfiable("the range starts past the end")
    return ByteRange(start, min(end, size - 1))


def _blocks(handle: BinaryIO, start: int, length: int) -> Iterator[bytes]:
    try:
        handle.seek(start)
        while length > 0:
            block = handle.read(min(READ_BLOCK, length))
            if not block:
                return
            length -= len(block)
            yield block
    finally:
        handle.close()


def ranged_file_response(
    *,
    path: Path,
    range_header: str | None,
    content_type: str,
    filename: str,
    as_attachment: bool,
) -> tuple[HttpResponse | StreamingHttpResponse, ByteRange | None]:
    """The response for ``path`` and the range it answers (``None`` for the whole file or a
    416). The path itself never appears in the response; ``filename`` names it."""
    handle = path.open("rb")
    size = os.fstat(handle.fileno()).st_size
    try:
        wanted = parse_range(range_header, size)
    except RangeNotSatisfiable:
        handle.close()
        refused = HttpResponse(status=416)
        refused["Content-Range"] = f"bytes */{size}"
        refused["Accept-Ranges"] = "bytes"
        return refused, None
    response: HttpResponse | StreamingHttpResponse
    if wanted is None:
        response = FileResponse(handle, content_type=content_type)
        response["Content-Length"] = str(size)
    else:
        response = StreamingHttpResponse(
            _blocks(handle, wanted.start, wanted.length), status=206, content_type=content_type
        )
        response["Content-Range"] = wanted.content_range(size)
        response["Content-Length"] = str(wanted.length)
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = content_disposition_header(as_attachment, filename) or ""
    # Recordings are personal data: never kept by a shared cache or on disk by the browser.
    response["Cache-Control"] = "private, no-store"
    return response, wanted
