"""What a stereo call recording says about the conversation, and its waveform, in one pass.

The agent is alone on the left channel and the caller on the right, so who spoke when comes
from voice activity per channel, without diarisation. The file is read once, in blocks of a
few seconds (memory stays bounded however long the call), and each block feeds:

* the **waveform peaks**: the minimum and maximum sample of each channel per bucket, at
  ``PEAKS_PER_SECOND`` buckets a second but never more than ``MAX_PEAK_BUCKETS`` (a long call
  gets wider buckets); stored as ``int8`` scaled to the loudest sample, 4 bytes a bucket;
* the **voice activity** of each channel: the energy of 20 ms frames against an adaptive noise
  floor. A frame is speech when it is ``SPEECH_MARGIN_DB`` above the floor and above
  ``SPEECH_MIN_DBFS``. The floor starts at the quiet end of the first block, falls at once to
  any quieter frame (never below ``FLOOR_MIN_DBFS``: the digital silence of a filled gap is not
  line noise) and rises slowly towards louder ones (never above ``FLOOR_MAX_DBFS``, so a long
  stretch of speech never becomes the floor). Pauses of up to ``HANGOVER_FRAMES`` between
  speech frames are bridged (talk between words); a burst of fewer than
  ``MIN_VOICED_FRAMES`` speech frames (a click) is not talk.

From the two channels' talk runs (``conversation_stats``):

* **talk** per side; **overtalk**: both talking; **silence**: neither. By construction
  ``agent + caller - overtalk + silence == audio`` seconds.
* **monologue**: one side's turn, allowing its own pauses up to ``MONOLOGUE_PAUSE_SECONDS``;
  the other side's backchannels ("mm-hm", runs shorter than ``BACKCHANNEL_SECONDS``) do not
  end it, anything longer does (from the moment it starts). The longest one is reported.
* **interruption** of Y by X: X starts talking while Y is in a turn (a run of at least
  ``BACKCHANNEL_SECONDS``), Y stops within ``INTERRUPTION_YIELD_SECONDS`` of X starting, and X
  is still talking when Y stops: X took the floor. Talking over someone who carries on, and
  backchannels, are overtalk, not interruptions.

Pure NumPy, no Django: the Celery task and the benchmark call :func:`analyse_wav`.
"""

from __future__ import annotations

import bisect
import math
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

AGENT_CHANNEL, CALLER_CHANNEL = 0, 1  # left, right
FRAME_SECONDS = 0.02
BLOCK_FRAMES = 400  # 8 s a read at 20 ms frames: 256 KB of stereo 8 kHz PCM16

PEAKS_PER_SECOND = 20
MAX_PEAK_BUCKETS = 8000

SPEECH_MARGIN_DB = 12.0
SPEECH_MIN_DBFS = -50.0
FLOOR_MIN_DBFS = -70.0
FLOOR_MAX_DBFS = -40.0
FLOOR_RISE = 0.005  # fraction of the way to a louder frame, per frame (about 4 s to adapt)
HANGOVER_FRAMES = 10  # 200 ms
MIN_VOICED_FRAMES = 2

MONOLOGUE_PAUSE_SECONDS = 1.5
BACKCHANNEL_SECONDS = 1.0
INTERRUPTION_YIELD_SECONDS = 2.0

_ENERGY_EPSILON = 1e-10  # -100 dBFS: the energy of digital silence, so log10 is defined
_MAX_CHUNKS = 64  # RIFF chunks looked at before the data chunk

Run = tuple[int, int]  # [start, end) in frames


class WavFormatError(ValueError):
    """The file is not a PCM16 stereo WAV this module can analyse."""


@dataclass(frozen=True)
class WavLayout:
    """Where the samples are. ``data_bytes`` is what the file really holds (a truncated file
    is analysed as far as it goes) in whole stereo frames."""

    channels: int
    sample_rate: int
    data_offset: int
    data_bytes: int

    @property
    def samples(self) -> int:
        return self.data_bytes // (2 * self.channels)


def wav_layout(handle: BinaryIO, size: int) -> WavLayout:
    """Read the RIFF header of a PCM16 stereo WAV of ``size`` bytes; ``WavFormatError`` if it
    is anything else. A data size of 0 or 0xFFFFFFFF (a file still being written) or larger
    than the file means "to the end of the file"."""
    head = handle.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise WavFormatError("not a RIFF/WAVE file")
    position = 12
    fmt: tuple[int, int, int, int] | None = None
    for _ in range(_MAX_CHUNKS):
        chunk = handle.read(8)
        if len(chunk) < 8:
            break
        chunk_id, chunk_size = struct.unpack("<4sI", chunk)
        position += 8
        if chunk_id == b"fmt ":
            body = handle.read(min(chunk_size, 64))
            if chunk_size < 16 or len(body) < 16:
                raise WavFormatError("the format chunk is too short")
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", body)
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            if fmt is None:
                raise WavFormatError("the data chunk comes before the format chunk")
            tag, channels, rate, bits = fmt
            if tag not in (1, 0xFFFE) or bits != 16:
                raise WavFormatError(f"not 16-bit PCM (format {tag}, {bits} bits)")
            if channels != 2:
                raise WavFormatError(f"{channels} channel(s), a call recording has 2")
            if not 1000 <= rate <= 192_000:
                raise WavFormatError(f"implausible sample rate {rate}")
            available = max(size - position, 0)
            declared = chunk_size if chunk_size not in (0, 0xFFFFFFFF) else available
            data_bytes = min(declared, available) // 4 * 4
            return WavLayout(channels, rate, position, data_bytes)
        position += chunk_size + (chunk_size & 1)
        if position > size:
            break
        handle.seek(position)
    raise WavFormatError("no data chunk")


# --- peaks ------------------------------------------------------------------------------------

_PEAKS_MAGIC = b"RAPK"
_PEAKS_VERSION = 1
_PEAKS_HEADER = struct.Struct("<4sBBHIIIQHH")


@dataclass(frozen=True)
class Peaks:
    """Min/max per bucket and channel, ``data[bucket, channel] = (min, max)`` in -127..127 of
    ``scale`` (the loudest sample of the recording, so a quiet call still fills the height)."""

    sample_rate: int
    samples_per_bucket: int
    total_samples: int
    scale: int
    data: npt.NDArray[np.int8]  # shape (buckets, channels, 2)

    @property
    def buckets(self) -> int:
        return int(self.data.shape[0])

    @property
    def seconds_per_bucket(self) -> float:
        return self.samples_per_bucket / self.sample_rate

    def to_bytes(self) -> bytes:
        """A compact blob: a 32-byte header, then the ``int8`` values bucket by bucket."""
        header = _PEAKS_HEADER.pack(
            _PEAKS_MAGIC,
            _PEAKS_VERSION,
            int(self.data.shape[1]),
            0,
            self.sample_rate,
            self.samples_per_bucket,
            self.buckets,
            self.total_samples,
            self.scale,
            0,
        )
        return header + np.ascontiguousarray(self.data, dtype=np.int8).tobytes()

    @classmethod
    def from_bytes(cls, blob: bytes) -> Peaks:
        if len(blob) < _PEAKS_HEADER.size:
            raise ValueError("peaks blob too short")
        magic, version, channels, _, rate, per_bucket, buckets, total, scale, _ = (
            _PEAKS_HEADER.unpack_from(blob)
        )
        if magic != _PEAKS_MAGIC or version != _PEAKS_VERSION:
            raise ValueError("not a peaks blob of this version")
        expected = buckets * channels * 2
        body = blob[_PEAKS_HEADER.size :]
        if len(body) != expected:
            raise ValueError(f"peaks blob holds {len(body)} values, header says {expected}")
        data = np.frombuffer(body, dtype=np.int8).reshape(buckets, channels, 2)
        return cls(rate, per_bucket, total, scale, data)

    def channel_pairs(self, channel: int) -> list[int]:
        """One channel as ``[min0, max0, min1, max1, …]`` (what the page draws)."""
        return [int(v) for v in self.data[:, channel, :].reshape(-1)]


def peak_bucket_samples(total_samples: int, sample_rate: int) -> int:
    """Samples per bucket: ``PEAKS_PER_SECOND`` buckets a second, at most ``MAX_PEAK_BUCKETS``."""
    by_rate = math.ceil(total_samples * PEAKS_PER_SECOND / sample_rate)
    wanted = max(1, min(MAX_PEAK_BUCKETS, by_rate))
    return max(1, math.ceil(total_samples / wanted))


class _PeakAccumulator:
    def __init__(self, total_samples: int, sample_rate: int, channels: int) -> None:
        self.sample_rate = sample_rate
        self.total_samples = total_samples
        self.per_bucket = peak_bucket_samples(total_samples, sample_rate)
        buckets = math.ceil(total_samples / self.per_bucket) if total_samples else 0
        self.low = np.full((buckets, channels), 32767, dtype=np.int16)
        self.high = np.full((buckets, channels), -32768, dtype=np.int16)

    def add(self, first_sample: int, block: npt.NDArray[np.int16]) -> None:
        if block.shape[0] == 0:
            return
        per_bucket = self.per_bucket
        first_bucket = first_sample // per_bucket
        last_bucket = (first_sample + block.shape[0] - 1) // per_bucket
        bucket_ids = np.arange(first_bucket, last_bucket + 1)
        starts = np.maximum(bucket_ids * per_bucket - first_sample, 0)
        self.low[bucket_ids] = np.minimum(self.low[bucket_ids], np.minimum.reduceat(block, starts))
        self.high[bucket_ids] = np.maximum(
            self.high[bucket_ids], np.maximum.reduceat(block, starts)
        )

    def result(self) -> Peaks:
        low = self.low.astype(np.int32)
        high = self.high.astype(np.int32)
        scale = int(max(np.abs(low).max(initial=0), np.abs(high).max(initial=0), 1))
        scale = min(scale, 32767)

        def quantise(values: npt.NDArray[np.int32]) -> npt.NDArray[np.int8]:
            scaled = np.rint(values * (127.0 / scale))
            quantised: npt.NDArray[np.int8] = np.clip(scaled, -127, 127).astype(np.int8)
            return quantised

        data = np.stack([quantise(low), quantise(high)], axis=-1)
        return Peaks(self.sample_rate, self.per_bucket, self.total_samples, scale, data)


# --- voice activity ---------------------------------------------------------------------------


@dataclass
class _VoiceTracker:
    """One channel's voice activity, fed frame energies block by block; emits talk runs."""

    floor: float | None = None
    run_start: int | None = None
    last_voiced: int = -1
    voiced: int = 0
    runs: list[Run] = field(default_factory=list)

    def feed(self, energies: npt.NDArray[np.float64], first_frame: int) -> None:
        if energies.size == 0:
            return
        floor = self.floor
        if floor is None:
            floor = min(max(float(np.percentile(energies, 10)), FLOOR_MIN_DBFS), FLOOR_MAX_DBFS)
        run_start, last_voiced, voiced = self.run_start, self.last_voiced, self.voiced
        for offset, energy in enumerate(energies.tolist()):
            frame = first_frame + offset
            if energy >= floor + SPEECH_MARGIN_DB and energy >= SPEECH_MIN_DBFS:
                if run_start is not None and frame - last_voiced - 1 > HANGOVER_FRAMES:
                    self._close(run_start, last_voiced, voiced)
                    run_start = None
                if run_start is None:
                    run_start, voiced = frame, 0
                last_voiced = frame
                voiced += 1
            if energy < floor:
                floor = max(energy, FLOOR_MIN_DBFS)
            else:
                floor = min(floor + (energy - floor) * FLOOR_RISE, FLOOR_MAX_DBFS)
        self.floor, self.run_start, self.last_voiced, self.voiced = (
            floor,
            run_start,
            last_voiced,
            voiced,
        )

    def finish(self) -> list[Run]:
        if self.run_start is not None:
            self._close(self.run_start, self.last_voiced, self.voiced)
            self.run_start = None
        return self.runs

    def _close(self, start: int, last_voiced: int, voiced: int) -> None:
        if voiced >= MIN_VOICED_FRAMES:
            self.runs.append((start, last_voiced + 1))


def frame_energies_dbfs(
    block: npt.NDArray[np.int16], frame_samples: int
) -> npt.NDArray[np.float64]:
    """Mean energy of each frame of each channel, in dBFS: shape (frames, channels). A last
    partial frame counts with the samples it has."""
    samples = block.shape[0]
    if samples == 0:
        return np.empty((0, block.shape[1]))
    full = samples // frame_samples
    values = block.astype(np.float64) / 32768.0
    squares = values * values
    parts = []
    if full:
        parts.append(squares[: full * frame_samples].reshape(full, frame_samples, -1).mean(axis=1))
    if samples > full * frame_samples:
        parts.append(squares[full * frame_samples :].mean(axis=0, keepdims=True))
    energy = np.concatenate(parts) if len(parts) > 1 else parts[0]
    return 10.0 * np.log10(energy + _ENERGY_EPSILON)


# --- conversation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ConversationStats:
    audio_seconds: float
    agent_talk_seconds: float
    caller_talk_seconds: float
    silence_seconds: float
    overtalk_seconds: float
    longest_monologue_seconds: float
    longest_monologue_speaker: str  # "agent", "caller", or "" when nobody spoke
    agent_interruptions: int
    caller_interruptions: int


def _total(runs: Sequence[Run]) -> int:
    return sum(end - start for start, end in runs)


def _intersection(first: Sequence[Run], second: Sequence[Run]) -> int:
    """Frames in both (each list sorted and disjoint)."""
    total = i = j = 0
    while i < len(first) and j < len(second):
        start = max(first[i][0], second[j][0])
        end = min(first[i][1], second[j][1])
        if end > start:
            total += end - start
        if first[i][1] <= second[j][1]:
            i += 1
        else:
            j += 1
    return total


def _subtract(runs: Sequence[Run], cuts: Sequence[Run]) -> list[Run]:
    """``runs`` minus ``cuts`` (both sorted and disjoint)."""
    pieces: list[Run] = []
    j = 0
    for start, end in runs:
        while j < len(cuts) and cuts[j][1] <= start:
            j += 1
        k = j
        cursor = start
        while k < len(cuts) and cuts[k][0] < end:
            if cuts[k][0] > cursor:
                pieces.append((cursor, cuts[k][0]))
            cursor = max(cursor, cuts[k][1])
            k += 1
        if cursor < end:
            pieces.append((cursor, end))
    return pieces


def _longest_monologue(
    own: Sequence[Run], other: Sequence[Run], *, pause: int, backchannel: int
) -> int:
    turns_of_other = [run for run in other if run[1] - run[0] >= backchannel]
    pieces = _subtract(own, turns_of_other)
    other_starts = [run[0] for run in turns_of_other]
    longest = 0
    current: Run | None = None
    for piece in pieces:
        if current is not None:
            gap_start, gap_end = current[1], piece[0]
            # the other side's turn in (or cutting) the gap ends the monologue
            index = bisect.bisect_left(other_starts, gap_end)
            cut = index > 0 and turns_of_other[index - 1][1] > gap_start
            if gap_end - gap_start <= pause and not cut:
                current = (current[0], piece[1])
                continue
            longest = max(longest, current[1] - current[0])
        current = piece
    if current is not None:
        longest = max(longest, current[1] - current[0])
    return longest


def _interruptions(
    own: Sequence[Run], other: Sequence[Run], *, yield_within: int, turn_min: int
) -> int:
    other_starts = [run[0] for run in other]
    count = 0
    for start, end in own:
        index = bisect.bisect_right(other_starts, start - 1) - 1  # other run starting before us
        if index < 0:
            continue
        other_start, other_end = other[index]
        if not other_start < start < other_end or other_end - other_start < turn_min:
            continue
        if other_end - start <= yield_within and end > other_end:
            count += 1
    return count


def conversation_stats(
    agent: Sequence[Run],
    caller: Sequence[Run],
    *,
    frame_seconds: float,
    audio_seconds: float,
) -> ConversationStats:
    """The figures from each side's talk runs (frames, sorted, disjoint)."""

    def seconds(frames: int) -> float:
        return min(frames * frame_seconds, audio_seconds)

    def frames(value: float) -> int:
        return max(1, round(value / frame_seconds))

    agent_talk = seconds(_total(agent))
    caller_talk = seconds(_total(caller))
    overtalk = min(seconds(_intersection(agent, caller)), agent_talk, caller_talk)
    silence = max(audio_seconds - (agent_talk + caller_talk - overtalk), 0.0)
    pause, backchannel = frames(MONOLOGUE_PAUSE_SECONDS), frames(BACKCHANNEL_SECONDS)
    agent_mono = _longest_monologue(agent, caller, pause=pause, backchannel=backchannel)
    caller_mono = _longest_monologue(caller, agent, pause=pause, backchannel=backchannel)
    if agent_mono == caller_mono == 0:
        speaker = ""
    else:
        speaker = "agent" if agent_mono >= caller_mono else "caller"
    yield_within = frames(INTERRUPTION_YIELD_SECONDS)
    return ConversationStats(
        audio_seconds=audio_seconds,
        agent_talk_seconds=agent_talk,
        caller_talk_seconds=caller_talk,
        silence_seconds=silence,
        overtalk_seconds=overtalk,
        longest_monologue_seconds=seconds(max(agent_mono, caller_mono)),
        longest_monologue_speaker=speaker,
        agent_interruptions=_interruptions(
            agent, caller, yield_within=yield_within, turn_min=backchannel
        ),
        caller_interruptions=_interruptions(
            caller, agent, yield_within=yield_within, turn_min=backchannel
        ),
    )


# --- the pass ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordingAnalysis:
    stats: ConversationStats
    peaks: Peaks
    agent_runs: list[Run]
    caller_runs: list[Run]
    frame_seconds: float


def analyse_wav(path: str | Path) -> RecordingAnalysis:
    """Analyse a stereo PCM16 WAV file in one bounded-memory pass (``WavFormatError`` if the
    file is not one; ``OSError`` if it cannot be read)."""
    with open(path, "rb") as handle:
        return analyse_stream(handle, os.fstat(handle.fileno()).st_size)


def analyse_stream(handle: BinaryIO, size: int) -> RecordingAnalysis:
    layout = wav_layout(handle, size)
    rate = layout.sample_rate
    frame_samples = max(1, round(rate * FRAME_SECONDS))
    block_samples = frame_samples * BLOCK_FRAMES
    block_bytes = block_samples * 2 * layout.channels
    peaks = _PeakAccumulator(layout.samples, rate, layout.channels)
    trackers = [_VoiceTracker() for _ in range(layout.channels)]
    handle.seek(layout.data_offset)
    remaining = layout.data_bytes
    sample = frame = 0
    while remaining > 0:
        raw = _read_exactly(handle, min(block_bytes, remaining))
        usable = len(raw) // (2 * layout.channels) * (2 * layout.channels)
        if usable == 0:
            break  # the file shrank under us: analyse what was read
        remaining -= usable
        block = np.frombuffer(raw[:usable], dtype="<i2").reshape(-1, layout.channels)
        peaks.add(sample, block)
        energies = frame_energies_dbfs(block, frame_samples)
        for channel, tracker in enumerate(trackers):
            tracker.feed(energies[:, channel], frame)
        sample += block.shape[0]
        frame += energies.shape[0]
        if len(raw) < min(block_bytes, remaining + usable):
            break
    audio_seconds = sample / rate
    frame_seconds = frame_samples / rate
    agent_runs = trackers[AGENT_CHANNEL].finish()
    caller_runs = trackers[CALLER_CHANNEL].finish()
    stats = conversation_stats(
        agent_runs, caller_runs, frame_seconds=frame_seconds, audio_seconds=audio_seconds
    )
    result_peaks = peaks.result()
    if sample < layout.samples:  # truncated while reading: only what was analysed
        result_peaks = Peaks(
            result_peaks.sample_rate,
            result_peaks.samples_per_bucket,
            sample,
            result_peaks.scale,
            result_peaks.data[: math.ceil(sample / result_peaks.samples_per_bucket)],
        )
    return RecordingAnalysis(stats, result_peaks, agent_runs, caller_runs, frame_seconds)


def _read_exactly(handle: BinaryIO, count: int) -> bytes:
    chunks = []
    while count > 0:
        chunk = handle.read(count)
        if not chunk:
            break
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)
