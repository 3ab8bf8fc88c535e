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


def decode(payload: bytes | bytearray | memoryview) -> np.ndarray:
    """mu-law bytes → int16 samples."""
    return DECODE_TABLE[np.frombuffer(payload, dtype=np.uint8)]


def silence(n_bytes: int) -> bytes:
    return bytes([SILENCE_BYTE]) * n_bytes


def encode(samples: np.ndarray) -> bytes:
    """int16 samples → mu-law bytes (G.711, with the standard bias and clipping)."""
    bias, clip = 0x84, 32635
    pcm = samples.astype(np.int32)
    sign = np.where(pcm < 0, 0x80, 0x00)
    magnitude = np.minimum(np.abs(pcm), clip) + bias
    exponent = np.floor(np.log2(np.maximum(magnitude, 1))).astype(np.int32) - 7
    exponent = np.clip(exponent, 0, 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    code = ~(sign | (exponent << 4) | mantissa) & 0xFF
    return code.astype(np.uint8).tobytes()
