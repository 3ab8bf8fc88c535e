"""Audio taps: decoded audio per perspective for later consumers (live transcription).

A tap never slows the ingest: offers to a full queue are dropped and counted.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class TapChunk:
    perspective: str
    start_sample: int
    samples: np.ndarray  # int16, 8 kHz mono
    is_gap: bool


class TapQueue:
    """Bounded, non-blocking queue of :class:`TapChunk`; the consumer polls or is notified."""

    def __init__(self, *, maxsize: int = 500, on_item: Callable[[], None] | None = None) -> None:
        self.maxsize = maxsize
        self.dropped = 0
        self.closed = False
        self._items: deque[TapChunk] = deque()
        self._on_item = on_item

    def offer(self, chunk: TapChunk) -> bool:
        if self.closed:
            return False
        if len(self._items) >= self.maxsize:
            self.dropped += 1
            return False
        self._items.append(chunk)
        if self._on_item is not None:
            self._on_item()
        return True

    def poll(self) -> TapChunk | None:
        return self._items.popleft() if self._items else None

    def __len__(self) -> int:
        return len(self._items)

    def close(self) -> None:
        self.closed = True
