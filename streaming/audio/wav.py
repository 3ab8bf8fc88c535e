"""Stereo 8 kHz 16-bit PCM WAV, written incrementally and always playable.

Recent audio sits in a small ring per channel (mu-law bytes, silence by default) so each
channel can be placed at its own sample position; committed audio goes to the file with
``os.pwrite`` and the header is rewritten on every commit, so a killed process leaves a valid
file missing at most the audio since the last commit. Audio placed behind what is already
committed (a leg that fell far behind) patches the file in place: nothing received is lost.
Audio placed far ahead costs one ring's work however far: the silence before it is not
written but left to the file system (the file is extended with zeros, PCM silence).
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streaming.audio import mulaw

HEADER_BYTES = 44
CHANNELS = 2
SAMPLE_WIDTH = 2
BLOCK_ALIGN = CHANNELS * SAMPLE_WIDTH
SAMPLE_RATE = mulaw.SAMPLE_RATE
LEFT, RIGHT = 0, 1


def wav_header(data_bytes: int, *, sample_rate: int = SAMPLE_RATE) -> bytes:
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + data_bytes,
        b"WAVE",
        b"fmt ",
        16,
        1,
        CHANNELS,
        sample_rate,
        sample_rate * BLOCK_ALIGN,
        BLOCK_ALIGN,
        SAMPLE_WIDTH * 8,
        b"data",
        data_bytes,
    )


def wav_bytes(samples: np.ndarray, *, rate: int = SAMPLE_RATE, encoding: str = "pcm16") -> bytes:
    """A whole WAV file in memory, of ``int16`` samples, mono (1-D) or ``(n, channels)``: for
    uploads and fixtures (recordings are written incrementally by :class:`StereoWavWriter`).

    ``encoding`` is ``"pcm16"`` or ``"mulaw"`` (G.711, format tag 7, half the size).
    """
    array = np.asarray(samples, dtype=np.int16)
    channels = 1 if array.ndim == 1 else array.shape[1]
    interleaved = array.reshape(-1)
    if encoding == "pcm16":
        data, tag, width, extra = interleaved.astype("<i2").tobytes(), 1, 2, b""
    elif encoding == "mulaw":
        data, tag, width = mulaw.encode(interleaved), 7, 1
        extra = b"fact" + struct.pack("<II", 4, len(array))
    else:
        raise ValueError(f"unknown encoding {encoding!r}: pcm16 or mulaw")
    block = channels * width
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, 8 * width)
    if tag != 1:
        fmt += struct.pack("<H", 0)  # cbSize: non-PCM formats carry it
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra
    body += b"data" + struct.pack("<I", len(data)) + data + (b"\0" if len(data) & 1 else b"")
    return b"RIFF" + struct.pack("<I", len(body)) + body


@dataclass(frozen=True)
class ChannelLevels:
    left_dbfs: float
    right_dbfs: float


def _dbfs_stereo(stereo: np.ndarray) -> tuple[float, float]:
    """Both channels' RMS level in dBFS, in one pass."""
    if stereo.size == 0:
        return -120.0, -120.0
    samples = stereo.astype(np.float64)
    rms = np.sqrt(np.einsum("ij,ij->j", samples, samples) / stereo.shape[0])
    left, right = (round(20 * math.log10(max(float(v), 1.0) / 32768.0), 1) for v in rms)
    return left, right


class StereoWavWriter:
    """Place mu-law audio per channel at sample positions; commit to a PCM16 stereo WAV."""

    def __init__(self, path: str | Path, *, ring_samples: int = 4 * SAMPLE_RATE) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.ring_samples = ring_samples
        self._silence = memoryview(bytes([mulaw.SILENCE_BYTE]) * ring_samples)
        self._rings = [bytearray(self._silence) for _ in range(CHANNELS)]
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o640)
        self.committed = 0
        self.ends = [0, 0]
        self.patched_samples = 0
        self._last_block: np.ndarray | None = None  # the last commit, for the levels
        self._levels = ChannelLevels(-120.0, -120.0)
        self._write_header()

    # --- placing ----------------------------------------------------------------------------
    def place(self, channel: int, start: int, payload: bytes) -> None:
        """Put mu-law ``payload`` on ``channel`` starting at sample ``start``."""
        n = len(payload)
        end = start + n
        if end > self.committed + self.ring_samples:  # keep the ring bounded
            self._advance(end - self.ring_samples)
        if end > self.ends[channel]:
            self.ends[channel] = end
        if start < self.committed:
            behind = min(end, self.committed) - start
            self._patch(channel, start, payload[:behind])
            start += behind
            payload = payload[behind:]
            if not payload:
                return
        ring = self._rings[channel]
        index = start % self.ring_samples
        first = min(len(payload), self.ring_samples - index)
        ring[index : index + first] = payload[:first]
        if first < len(payload):
            ring[: len(payload) - first] = payload[first:]

    # --- committing -------------------------------------------------------------------------
    def commit(self, through: int) -> int:
        """Write samples up to ``through`` (exclusive) to the file; returns samples written.

        Runs for every live call several times a second, so it is a handful of array
        operations: interleave both channels' mu-law codes, decode each pair through one table
        into a stereo PCM16 frame, write, and reset the ring to silence."""
        through = min(through, self.committed + self.ring_samples)
        count = through - self.committed
        if count <= 0:
            return 0
        ring_samples = self.ring_samples
        start_index = self.committed % ring_samples
        first = min(count, ring_samples - start_index)
        codes = np.empty(count * CHANNELS, dtype=np.uint8)
        silence = self._silence
        for channel, ring in enumerate(self._rings):
            codes[channel : first * CHANNELS : CHANNELS] = np.frombuffer(
                ring, np.uint8, first, start_index
            )
            ring[start_index : start_index + first] = silence[:first]
            if first < count:
                rest = count - first
                codes[first * CHANNELS + channel :: CHANNELS] = np.frombuffer(ring, np.uint8, rest)
                ring[:rest] = silence[:rest]
        block = mulaw.PAIR_DECODE_TABLE[codes.view("<u2")].astype("<u4", copy=False)
        os.pwrite(self._fd, block, HEADER_BYTES + self.committed * BLOCK_ALIGN)
        self.committed = through
        self._last_block = block
        self._write_header()
        return count

    def _advance(self, through: int) -> None:
        """Commit through ``through``. Everything placed lies within one ring of the committed
        audio, so one commit writes it; past it there is only silence, which is skipped."""
        self.commit(min(through, max(self.ends)))
        if through > self.committed:
            self.committed = through
            os.ftruncate(self._fd, HEADER_BYTES + through * BLOCK_ALIGN)  # zeros: silence
            self._last_block = None
            self._levels = ChannelLevels(-120.0, -120.0)
            self._write_header()

    @property
    def levels(self) -> ChannelLevels:
        """Both channels' level over the last commit (computed only when asked)."""
        block, self._last_block = self._last_block, None
        if block is not None:
            left, right = _dbfs_stereo(block.view("<i2").reshape(-1, CHANNELS))
            self._levels = ChannelLevels(left, right)
        return self._levels

    def close(self, *, sync: bool = True) -> int:
        """Commit everything placed; returns the recording's length in samples.

        ``sync=False`` leaves the flush to disk (``fsync``, which can block for milliseconds)
        and the closing of the file to :meth:`sync_close`, so an event loop can run it in a
        thread instead of stalling every other call."""
        if self._fd >= 0:
            while self.committed < max(self.ends):
                self.commit(max(self.ends))
            if sync:
                self.sync_close()
        return self.committed

    def sync_close(self) -> None:
        """Flush the recording to disk and close it (idempotent)."""
        fd, self._fd = self._fd, -1
        if fd >= 0:
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    @property
    def closed(self) -> bool:
        return self._fd < 0

    @property
    def data_bytes(self) -> int:
        return self.committed * BLOCK_ALIGN

    def _write_header(self) -> None:
        os.pwrite(self._fd, wav_header(self.committed * BLOCK_ALIGN), 0)

    def _patch(self, channel: int, start: int, payload: bytes) -> None:
        offset = HEADER_BYTES + start * BLOCK_ALIGN
        raw = os.pread(self._fd, len(payload) * BLOCK_ALIGN, offset)
        block = np.frombuffer(raw, dtype="<i2").reshape(-1, CHANNELS).copy()
        block[:, channel] = mulaw.decode(payload[: block.shape[0]])
        os.pwrite(self._fd, block.tobytes(), offset)
        self.patched_samples += block.shape[0]


@dataclass(frozen=True)
class RepairResult:
    path: Path
    samples: int
    seconds: float
    header_was_valid: bool
    truncated_bytes: int


def wav_repair(path: str | Path) -> RepairResult:
    """Make an interrupted recording playable: header sizes from the file's real length."""
    path = Path(path)
    with open(path, "r+b") as handle:
        header = handle.read(HEADER_BYTES)
        size = os.fstat(handle.fileno()).st_size
        if len(header) < HEADER_BYTES or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            raise ValueError(f"{path} is not a WAV file written by the ingest")
        data_bytes = (size - HEADER_BYTES) // BLOCK_ALIGN * BLOCK_ALIGN
        truncated = size - HEADER_BYTES - data_bytes
        valid = header == wav_header(data_bytes)
        if truncated:
            handle.truncate(HEADER_BYTES + data_bytes)
        if not valid:
            handle.seek(0)
            handle.write(wav_header(data_bytes))
        handle.flush()
        os.fsync(handle.fileno())
    samples = data_bytes // BLOCK_ALIGN
    return RepairResult(path, samples, samples / SAMPLE_RATE, valid, truncated)


def wav_read_stereo(path: str | Path) -> np.ndarray:
    """The recording as an (n, 2) int16 array, trusting the header (what a player does)."""
    with open(path, "rb") as handle:
        header = handle.read(HEADER_BYTES)
        data_bytes = struct.unpack_from("<I", header, 40)[0]
        data = handle.read(data_bytes)
    return np.frombuffer(data, dtype="<i2").reshape(-1, CHANNELS)
