"""Audio for the simulator: WAV files, the synthetic two-tone conversation, G.711 frames.

Both channels are 8 kHz ``int16``: left = the agent (``Participant``), right = the caller
(``Conference``), as ringadmin records them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streaming.audio.mulaw import DECODE_TABLE
from streaming.audio.mulaw import decode as mulaw_decode
from streaming.audio.mulaw import encode as mulaw_encode

SAMPLE_RATE = 8000
FRAME_SAMPLES = 160  # 20 ms of 8 kHz G.711, one byte per sample
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE
PARTICIPANT = "Participant"  # the agent: LEFT channel
CONFERENCE = "Conference"  # the caller and every other leg: RIGHT channel
PERSPECTIVES = (PARTICIPANT, CONFERENCE)

# --- G.711 mu-law ------------------------------------------------------------------------------

MULAW_DECODE_TABLE = DECODE_TABLE
"""The 256 linear (int16) values of the mu-law codes, as every G.711 decoder has them."""


# --- Audio -------------------------------------------------------------------------------------


class AudioError(ValueError):
    """The audio file cannot be used (not a WAV, or an encoding we do not read)."""


@dataclass(frozen=True)
class StereoAudio:
    """Two int16 channels at 8 kHz: left = agent (Participant), right = caller (Conference)."""

    left: np.ndarray
    right: np.ndarray

    @property
    def duration(self) -> float:
        return len(self.left) / SAMPLE_RATE

    def channel(self, perspective: str) -> np.ndarray:
        return self.left if perspective == PARTICIPANT else self.right


def resample(samples: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Linear-interpolation resampling, with a box low-pass first when downsampling.

    Enough for test and load audio; not a studio resampler.
    """
    if rate == target or len(samples) == 0:
        return samples.astype(np.int16)
    x = samples.astype(np.float64)
    ratio = rate / target
    if ratio > 1.5:
        width = round(ratio)
        x = np.convolve(x, np.ones(width) / width, mode="same")
    count = round(len(x) * target / rate)
    positions = np.arange(count) * ratio
    return np.clip(np.interp(positions, np.arange(len(x)), x), -32768, 32767).astype(np.int16)


def _wav_chunks(data: bytes) -> dict[bytes, bytes]:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioError("not a RIFF/WAVE file")
    chunks: dict[bytes, bytes] = {}
    position = 12
    while position + 8 <= len(data):
        chunk_id = data[position : position + 4]
        size = int.from_bytes(data[position + 4 : position + 8], "little")
        body = data[position + 8 : position + 8 + size]  # a streamed file may lie about size
        chunks.setdefault(chunk_id, body)
        position += 8 + size + (size & 1)
    return chunks


def load_wav(path: str | Path) -> StereoAudio:
    """Read a mono or stereo WAV (PCM 8/16/24/32-bit, float, or G.711 mu-law) at any rate.

    Mono goes to both channels; beyond two channels the first two are used.
    """
    chunks = _wav_chunks(Path(path).read_bytes())
    fmt, data = chunks.get(b"fmt "), chunks.get(b"data")
    if fmt is None or data is None or len(fmt) < 16:
        raise AudioError("WAV file without a fmt or data chunk")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == 0xFFFE and len(fmt) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the sub-format says
        tag = int.from_bytes(fmt[24:26], "little")
    if channels < 1 or block_align < channels or rate <= 0:
        raise AudioError("WAV header with an impossible channel count, block size or rate")
    frames = len(data) // block_align
    raw = data[: frames * block_align]
    width = block_align // channels
    if tag == 7 and width == 1:
        pcm: np.ndarray = mulaw_decode(raw).astype(np.int32)
    elif tag == 1 and width == 1:
        pcm = (np.frombuffer(raw, np.uint8).astype(np.int32) - 128) << 8
    elif tag == 1 and width == 2:
        pcm = np.frombuffer(raw, "<i2").astype(np.int32)
    elif tag == 1 and width == 3:
        triples = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        pcm = ((triples[:, 0] << 8) | (triples[:, 1] << 16) | (triples[:, 2] << 24)) >> 16
    elif tag == 1 and width == 4:
        pcm = np.frombuffer(raw, "<i4") >> 16
    elif tag == 3 and width in (4, 8):
        floats = np.frombuffer(raw, "<f4" if width == 4 else "<f8")
        pcm = np.clip(np.round(floats * 32767), -32768, 32767).astype(np.int32)
    else:
        raise AudioError(
            f"unsupported WAV encoding (format tag {tag}, {bits} bits): use PCM or G.711 mu-law"
        )
    pcm = pcm.astype(np.int16).reshape(frames, channels)
    left = pcm[:, 0]
    right = pcm[:, 1] if channels >= 2 else pcm[:, 0]
    return StereoAudio(left=resample(left, rate), right=resample(right, rate))


def tone_audio(duration: float, *, seed: int = 0) -> StereoAudio:
    """A synthetic conversation: the agent (440 Hz, left) and the caller (660 Hz, right) take
    turns in syllable-like bursts, so the two channels differ and misplacement is audible."""
    count = max(1, round(duration * SAMPLE_RATE))
    t = np.arange(count) / SAMPLE_RATE
    rng = np.random.default_rng(seed)
    envelopes = [np.zeros(count), np.zeros(count)]
    position, speaker = 0, 0
    while position < count:
        turn = int(rng.uniform(0.8, 2.4) * SAMPLE_RATE)
        end = min(count, position + turn)
        syllable_rate = rng.uniform(3.0, 5.0)
        local = np.arange(end - position) / SAMPLE_RATE
        envelopes[speaker][position:end] = 0.5 * (1 - np.cos(2 * np.pi * syllable_rate * local))
        position = end + int(rng.uniform(0.1, 0.4) * SAMPLE_RATE)
        speaker ^= 1
    amplitude = 0.3 * 32767
    left = amplitude * envelopes[0] * np.sin(2 * np.pi * 440.0 * t)
    right = amplitude * envelopes[1] * np.sin(2 * np.pi * 660.0 * t)
    return StereoAudio(left=left.astype(np.int16), right=right.astype(np.int16))


def frame_payloads(samples: np.ndarray, count: int) -> list[bytes]:
    """``count`` frames of 160 mu-law bytes; the audio loops if shorter, silence pads the end."""
    encoded = mulaw_encode(samples)
    needed = count * FRAME_SAMPLES
    if len(encoded) and len(encoded) < needed:
        encoded = encoded * (needed // len(encoded) + 1)
    encoded = encoded[:needed].ljust(needed, b"\xff")  # 0xFF is mu-law silence
    return [encoded[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES] for i in range(count)]
