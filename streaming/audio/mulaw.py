"""G.711 mu-law: the decode table and silence.

Decoding through a 256-entry table is exact and lossless (each code maps to one 16-bit
sample), so a PCM16 recording holds exactly the audio RingCX sent.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 8000
SILENCE_BYTE = 0xFF  # mu-law code for 0 (positive zero)
USUAL_FRAME_BYTES = 160  # 20 ms at 8 kHz, one byte per sample


def _decode_code(code: int) -> int:
    code = ~code & 0xFF
    magnitude = (((code & 0x0F) << 3) + 0x84) << ((code & 0x70) >> 4)
    return 0x84 - magnitude if code & 0x80 else magnitude - 0x84


DECODE_TABLE: np.ndarray = np.array([_decode_code(c) for c in range(256)], dtype=np.int16)


# Both channels at once: a pair of codes (left in the low byte, right in the high byte, as two
# interleaved mu-law bytes read little-endian) → one little-endian stereo PCM16 frame.
PAIR_DECODE_TABLE: np.ndarray = (
    (DECODE_TABLE.astype(np.uint16).astype(np.uint32)[None, :] << 16)
    | DECODE_TABLE.astype(np.uint16).astype(np.uint32)[:, None]
).T.reshape(-1)


def decode(payload: bytes | bytearray | memoryview) -> np.ndarray:
    """mu-law bytes → int16 samples."""
    return DECODE_TABLE[np.frombuffer(payload, dtype=np.uint8)]


def silence(n_bytes: int) -> bytes:
    return bytes([SILENCE_BYTE]) * n_bytes


_ENCODE_BIAS = 0x21  # 0x84 on the 16-bit scale; the classic codec works on 14 bits
_ENCODE_CLIP = 8159
_SEGMENT_ENDS = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], np.int32)


def encode(samples: np.ndarray | list[int]) -> bytes:
    """int16 samples → G.711 mu-law (the classic Sun/CCITT algorithm, vectorised).

    Bit-exact with the reference C codec (and Python's old ``audioop.lin2ulaw``).
    """
    array = np.asarray(samples)
    if array.dtype != np.int16:
        array = np.clip(array, -32768, 32767).astype(np.int16)
    x = array.astype(np.int32) >> 2  # arithmetic shift, as C's >> on a negative short
    negative = x < 0
    magnitude = np.minimum(np.where(negative, -x, x), _ENCODE_CLIP) + _ENCODE_BIAS
    segment = np.searchsorted(_SEGMENT_ENDS, magnitude, side="left")
    code = (segment << 4) | ((magnitude >> (segment + 1)) & 0x0F)
    code = np.where(segment >= 8, 0x7F, code)
    return (code ^ np.where(negative, 0x7F, 0xFF)).astype(np.uint8).tobytes()
