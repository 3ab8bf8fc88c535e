"""One call's audio: any number of sockets → two tracks → one stereo recording.

Each socket gets a :class:`SocketFeed` (its own sequence numbering); each perspective is a
:class:`Track` (agent left, caller right) that keeps its position across sockets, so a call
whose legs come on two sockets, or whose socket reconnects, still makes one recording.
Tracks are placed by sequence position; wall-clock time is used only once per track, to offset
a leg that starts later than the other, rounded to whole frames.

Silence the pipeline invents (a lost frame's, the lead of a leg that starts later) is bounded
by the call's clock: it never takes a leg past the later of the wall-clock time since the
call's first frame and the longest audio a leg actually sent, plus an allowance. What would
go further is refused and counted (``silence_refused_ms``): the numbers that ask for it come
from the sender, and must not turn a few bytes into hours of recording.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np

from ringadmin.calls.stream_stats_layout import LagStats, PerspectiveStats, StreamStats
from streaming.audio import mulaw
from streaming.audio.lag import LagHistogram
from streaming.audio.protocol import CONFERENCE, PARTICIPANT, PERSPECTIVES, Media
from streaming.audio.sequencer import PER_SOCKET, UNDETERMINED, Out, SocketSequencer
from streaming.audio.taps import TapChunk, TapQueue
from streaming.audio.wav import LEFT, RIGHT, SAMPLE_RATE, StereoWavWriter

CHANNEL_OF = {PARTICIPANT: LEFT, CONFERENCE: RIGHT}
INFORMATIVE_ARRIVAL_GAP = 0.005  # seconds: arrival gaps smaller than this say nothing
PAIRING_FRAMES = 32  # frames of a later leg used to find its offset (0.64 s)
# A leg's usual frame (what a lost frame is filled with) is 10-60 ms: G.711's packet times.
# RingCX sends 20 ms. Another length counts only when it is among these and seen 3 times.
USUAL_FRAME_RANGE = (80, 480)
USUAL_FRAME_MIN_COUNT = 3
# A leg's frame index (from its first) that can say when it started: a frame numbered further
# out belongs to a numbering that jumped, and its number is the sender's to make up.
START_INDEX_LIMIT = 3000
CHANNEL_NAME = {LEFT: "left", RIGHT: "right"}
RECORDING_FORMAT = "pcm_s16le"


@dataclass(frozen=True)
class PipelineConfig:
    window_frames: int = 50  # 1 s of 20 ms frames
    window_seconds: float = 1.0
    ring_seconds: float = 4.0
    commit_lag_seconds: float = 0.25  # how long a stalled leg may hold back the other
    tap_queue_size: int = 500
    measure_lag: bool = True
    silence_allowance_seconds: float = 2.0  # invented silence beyond the call's clock


@dataclass
class Track:
    perspective: str
    channel: int
    next_sample: int = 0
    offset_frames: int | None = None
    offset_samples: int = 0
    start_time: float | None = None
    first_arrival: float | None = None
    feed: SocketFeed | None = None  # the socket whose numbering placed this track
    base_sequence: int | None = None  # first sequence number released
    first_arrivals: dict[int, float] = field(default_factory=dict)  # first frames: seq → time
    recent_arrivals: dict[int, float] = field(default_factory=dict)  # latest frames
    recent_positions: dict[int, int] = field(default_factory=dict)  # latest: seq → frame index
    first_positions: dict[int, int] = field(default_factory=dict)  # first frames: seq → index
    released_count: int = 0
    waiting: list[Out] = field(default_factory=list)  # releases held until the offset is known
    frame_bytes: int = mulaw.USUAL_FRAME_BYTES
    frames_received: int = 0
    frames_written: int = 0
    bytes: int = 0
    gaps_filled_frames: int = 0
    gaps_filled_samples: int = 0
    silence_refused_samples: int = 0  # gap fill and lead refused: past the call's clock
    first_sequence: int | None = None
    last_sequence: int | None = None  # in its socket's numbering, for reconnects
    last_written_sequence: int | None = None
    stopped: bool = False
    _lengths: dict[int, int] = field(default_factory=dict)
    _lengths_seen: int = 0

    @property
    def placed(self) -> bool:
        return self.offset_frames is not None

    def note_arrival(self, sequence: int, now: float) -> None:
        if self.first_arrival is None:
            self.first_arrival = now
        if len(self.first_arrivals) < PAIRING_FRAMES * 4:
            self.first_arrivals.setdefault(sequence, now)
        recent = self.recent_arrivals
        recent[sequence] = now
        if len(recent) > 128:
            del recent[next(iter(recent))]

    def note_released(self, sequence: int, count: int = 1, step: int = 1) -> None:
        """Frame positions by sequence number (``count`` frames numbered ``step`` apart)."""
        positions, first_positions = self.recent_positions, self.first_positions
        index = self.released_count
        # the first frames and the latest 128, whatever the count
        first_room = max(0, min(count, PAIRING_FRAMES * 4 - len(first_positions)))
        for k in range(first_room):
            first_positions[sequence + k * step] = index + k
        for k in range(max(0, count - 128), count):
            positions[sequence + k * step] = index + k
            if len(positions) > 128:
                del positions[next(iter(positions))]
        self.released_count = index + count

    def note_length(self, length: int) -> None:
        """Track the usual frame length: the most common among the first 200 frames, of a
        length G.711 could use, and seen at least three times (one odd frame never sets it)."""
        if self._lengths_seen > 200:
            return
        self._lengths_seen += 1
        if not USUAL_FRAME_RANGE[0] <= length <= USUAL_FRAME_RANGE[1]:
            return
        lengths = self._lengths
        count = lengths.get(length, 0) + 1
        if count == 1 and len(lengths) >= 8:
            return  # too many lengths already: this one cannot become the usual
        lengths[length] = count
        if count >= USUAL_FRAME_MIN_COUNT and count > lengths.get(self.frame_bytes, 0):
            self.frame_bytes = length


def _arrives_in_real_time(points: list[tuple[int, float]], frame_seconds: float) -> bool:
    """Did these (frame index, arrival) come at their own pace, not in a burst?"""
    if len(points) < 5:
        return False
    frames = max(p[0] for p in points) - min(p[0] for p in points)
    elapsed = max(p[1] for p in points) - min(p[1] for p in points)
    return frames > 0 and elapsed >= 0.5 * frames * frame_seconds


def _earliest_start(points: list[tuple[int, float]], frame_seconds: float) -> float:
    return min(at - index * frame_seconds for index, at in points)


class SocketFeed:
    """What one socket contributes: its own numbering and counters."""

    def __init__(self, sequencer: SocketSequencer) -> None:
        self.sequencer = sequencer
        self.perspectives: set[str] = set()
        self.stops = 0
        self.closed = False

    @property
    def all_stopped(self) -> bool:
        """Every perspective that sent media on this socket has sent its Stop."""
        return bool(self.perspectives) and self.stops >= len(self.perspectives)


class CallPipeline:
    """Feed Media from any socket of the call; ``tick`` regularly; ``close`` at the end.

    ``now`` is wall-clock seconds (``time.time()``) everywhere, so the lag of frames that
    carry the sender's ``sentAt`` stamp can be measured.
    """

    def __init__(self, *, path: str | Path, config: PipelineConfig | None = None) -> None:
        self.config = config or PipelineConfig()
        self.writer = StereoWavWriter(
            path, ring_samples=int(self.config.ring_seconds * SAMPLE_RATE)
        )
        self.tracks = {p: Track(p, CHANNEL_OF[p]) for p in PERSPECTIVES}
        self.feeds: list[SocketFeed] = []
        self.taps: list[TapQueue] = []
        self.lag = LagHistogram()
        self.errors: dict[str, int] = {}
        self._lag_samples = int(self.config.commit_lag_seconds * SAMPLE_RATE)
        self._allowance = int(self.config.silence_allowance_seconds * SAMPLE_RATE)
        self._paired = False
        self._started: float | None = None  # the call's first frame (wall clock)
        self._now = 0.0  # the latest time known, for what is placed without one
        self._open_feeds: list[SocketFeed] = []
        self.closed = False

    # --- sockets ----------------------------------------------------------------------------
    def open_socket(self) -> SocketFeed:
        socket_counted = [
            f.sequencer.last_socket_sequence
            for f in self.feeds
            if f.sequencer.mode == PER_SOCKET and f.sequencer.last_socket_sequence is not None
        ]
        continue_from = {
            p: t.last_sequence for p, t in self.tracks.items() if t.last_sequence is not None
        }
        feed = SocketFeed(
            SocketSequencer(
                window_frames=self.config.window_frames,
                window_seconds=self.config.window_seconds,
                continue_from={} if socket_counted else continue_from,
                continue_socket_from=max(socket_counted) if socket_counted else None,
            )
        )
        self.feeds.append(feed)
        self._open_feeds.append(feed)
        return feed

    def close_socket(self, feed: SocketFeed) -> None:
        """The socket went away: write what it held (gaps filled between)."""
        if feed.closed:
            return
        feed.closed = True
        self._open_feeds.remove(feed)
        self._place_all(feed.sequencer.close(), None)
        self._decide_waiting(None, force=True)

    # --- input ------------------------------------------------------------------------------
    def media(self, feed: SocketFeed, message: Media, now: float) -> None:
        if feed.closed:  # the socket was already written off: nothing can place this
            self.count_error("media_after_close")
            return
        perspective = message.perspective
        sequence = message.sequence
        payload = message.payload
        track = self.tracks[perspective]
        track.frames_received += 1
        track.bytes += len(payload)
        if not self._paired:  # arrival times matter only until both legs are placed
            if self._started is None:
                self._started = now
            self._now = now
            track.note_arrival(sequence, now)
        if track.feed is None:
            track.feed = feed
        if track.first_sequence is None:
            track.first_sequence = sequence
        feed.perspectives.add(perspective)
        out = feed.sequencer.push(perspective, sequence, (payload, message.sent_at), now)
        if out:
            self._place_all(out, now)

    def stop(self, feed: SocketFeed, perspective: str | None) -> None:
        feed.stops += 1
        if perspective is not None:
            feed.sequencer.stopped(perspective)
            self.tracks[perspective].stopped = True
        elif feed.all_stopped:
            for name in feed.perspectives:
                self.tracks[name].stopped = True
        if feed.all_stopped:
            self._place_all(feed.sequencer.drain(), None)
            self._decide_waiting(None, force=True)

    def count_error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    @property
    def all_stopped(self) -> bool:
        """Every perspective that sent media, on every socket, has stopped."""
        sent = [t for t in self.tracks.values() if t.frames_received]
        return bool(sent) and all(t.stopped for t in sent)

    # --- time -------------------------------------------------------------------------------
    def tick(self, now: float) -> None:
        """Release what waited a whole window, and commit what is safe to disk."""
        self._now = now
        for feed in self._open_feeds:
            out = feed.sequencer.expire(now)
            if out:
                self._place_all(out, now)
        self._decide_waiting(now, force=False)
        self._commit()

    def close(self, *, sync: bool = True) -> StreamStats:
        """Place what is left and commit it. ``sync=False``: the caller then runs
        ``writer.sync_close()`` (the blocking flush to disk) where blocking is harmless."""
        if not self.closed:
            for feed in self.feeds:
                self.close_socket(feed)
            self._decide_waiting(None, force=True)
            self.writer.close(sync=sync)
            self.closed = True
            for tap in self.taps:
                tap.close()
        return self.stats()

    # --- taps -------------------------------------------------------------------------------
    def subscribe(
        self, *, maxsize: int | None = None, on_item: Callable[[], None] | None = None
    ) -> TapQueue:
        queue = TapQueue(maxsize=maxsize or self.config.tap_queue_size, on_item=on_item)
        self.taps.append(queue)
        return queue

    # --- placing ----------------------------------------------------------------------------
    def _place_all(self, out: list[Out], now: float | None) -> None:
        for entry in out:
            track = self.tracks[entry.perspective]
            if track.base_sequence is None:
                track.base_sequence = entry.sequence
            if track.offset_frames is None:
                if not any(t.placed for t in self.tracks.values()):
                    self._set_offset(track, 0, now)  # the first leg heard defines time zero
                else:
                    track.waiting.append(entry)
                    self._decide(track, now, force=False)
                    continue
            self._place_one(track, entry, now)

    def _place_one(self, track: Track, entry: Out, now: float | None) -> None:
        start = track.next_sample
        if entry.item is None:
            self._place_gap(track, entry, now)
            return
        payload, sent_at = entry.item
        length = len(payload)
        track.note_length(length)
        self.writer.place(track.channel, start, payload)
        track.frames_written += 1
        if self.config.measure_lag and sent_at is not None and now is not None:
            self.lag.add((now - sent_at) * 1000)
        track.next_sample = start + length
        track.last_sequence = entry.sequence
        if not self._paired:
            track.note_released(entry.sequence)
        if self.taps:
            self._tap(track.perspective, start, payload, length)

    def _place_gap(self, track: Track, entry: Out, now: float | None) -> None:
        """Lost frames: silence of the usual frame length each (nothing is written: the
        writer's audio is silent where nothing was placed), as far as the clock allows."""
        start = track.next_sample
        frames = self._silence_granted(track, entry.count, now)
        length = frames * track.frame_bytes
        track.gaps_filled_frames += frames
        track.gaps_filled_samples += length
        track.next_sample = start + length
        track.last_sequence = entry.last
        if not self._paired and frames:  # positions of the frames as placed, refused ones none
            track.note_released(entry.sequence, frames, entry.step)
        if self.taps and length:
            self._tap(track.perspective, start, None, length)

    def _set_offset(self, track: Track, offset_frames: int, now: float | None) -> None:
        frames = max(0, offset_frames)
        if frames:  # a lead of silence, like a gap: no further than the call's clock allows
            frames = self._silence_granted(track, frames, now)
        track.offset_frames = frames
        track.offset_samples = track.next_sample = frames * track.frame_bytes
        # Both legs placed: no offset is ever decided again, so the per-frame arrival and
        # position bookkeeping that decisions read can stop.
        self._paired = all(t.placed for t in self.tracks.values())

    def _decide_waiting(self, now: float | None, *, force: bool) -> None:
        for track in self.tracks.values():
            if track.waiting:
                self._decide(track, now, force=force)

    def _decide(self, track: Track, now: float | None, *, force: bool) -> None:
        """Find a later leg's offset from the other leg, then place what it waited with."""
        reference = next(t for t in self.tracks.values() if t.placed and t is not track)
        # A waiting leg had its first release numbered; a placed one has an offset too.
        assert track.base_sequence is not None
        assert reference.base_sequence is not None
        assert reference.offset_frames is not None
        per_socket = track.feed is not None and track.feed.sequencer.mode == PER_SOCKET
        waited = (
            now is not None
            and track.first_arrival is not None
            and now - track.first_arrival >= self.config.window_seconds
        )
        frame_seconds = track.frame_bytes / SAMPLE_RATE
        if not (force or waited or len(track.waiting) >= PAIRING_FRAMES):
            offset = self._offset_at_once(track, reference, per_socket, frame_seconds)
            if offset is not None:
                self._place_waiting(track, offset, now)
            return
        if per_socket:
            own, index = [], 0
            for entry in track.waiting:
                own.append((index, track.first_arrivals.get(entry.sequence)))
                index += entry.count
            others = [
                (position, reference.first_arrivals.get(sequence))
                for sequence, position in reference.first_positions.items()
            ]
        else:
            own = [
                (sequence - track.base_sequence, at)
                for sequence, at in track.first_arrivals.items()
            ]
            others = [
                (sequence - reference.base_sequence, at)
                for sequence, at in reference.first_arrivals.items()
            ]
        own_known = [(i, at) for i, at in own if at is not None and 0 <= i <= START_INDEX_LIMIT]
        others_known = [
            (i, at) for i, at in others if at is not None and 0 <= i <= START_INDEX_LIMIT
        ]
        if _arrives_in_real_time(others_known, frame_seconds) and own_known:
            # A frame cannot arrive before it is sent: each leg's earliest "arrival minus
            # position" is its start, to within its least-delayed frame.
            delta = _earliest_start(own_known, frame_seconds) - _earliest_start(
                others_known, frame_seconds
            )
            offset = reference.offset_frames + round(delta / frame_seconds)
        elif per_socket:
            offset = self._offset_by_interleaving(track, reference)
        else:
            # Sent in a burst, arrival times reflect the transport, not when a leg started:
            # frame n of each leg belongs at the same moment.
            offset = reference.offset_frames
        self._place_waiting(track, offset, now)

    def _place_waiting(self, track: Track, offset: int, now: float | None) -> None:
        self._set_offset(track, offset, now)
        waiting, track.waiting = track.waiting, []
        for entry in waiting:
            self._place_one(track, entry, now)

    @staticmethod
    def _offset_at_once(
        track: Track, reference: Track, per_socket: bool, frame_seconds: float
    ) -> int | None:
        """The usual case needs no waiting: this leg's first frame arrived together (within
        half a frame) with the other leg's frame sent at the same moment."""
        first = track.base_sequence
        assert first is not None  # see _decide
        assert reference.base_sequence is not None
        assert reference.offset_frames is not None
        arrived = track.first_arrivals.get(first)
        if arrived is None:
            return None
        if per_socket:
            # Numbers next to the other leg's very first: both legs began with the call.
            if abs(first - reference.base_sequence) == 1:
                return reference.offset_frames
            return None
        partner = reference.first_arrivals.get(reference.base_sequence)
        if partner is not None and abs(arrived - partner) < frame_seconds / 2:
            return reference.offset_frames
        return None

    def _offset_by_interleaving(self, track: Track, reference: Track) -> int:
        """One counter for the socket: the other leg's frame sent in the same 20 ms sits just
        before or just after this leg's first frame."""
        first = track.base_sequence
        assert first is not None  # see _decide
        assert reference.offset_frames is not None
        before = reference.recent_positions.get(first - 1, reference.first_positions.get(first - 1))
        after = reference.recent_positions.get(first + 1, reference.first_positions.get(first + 1))
        arrived = track.recent_arrivals.get(first, track.first_arrival)
        if before is None and after is None:
            return reference.offset_frames + max(0, reference.released_count - 1)
        if before is None or after is None:
            known = before if before is not None else after
            assert known is not None  # not both: handled above
            return reference.offset_frames + known
        # Both neighbours known. Sent in real time, the same-moment frame arrives with ours and
        # the other a frame apart; sent in a burst, the leg heard first is taken to send first.
        at_before = reference.recent_arrivals.get(first - 1)
        at_after = reference.recent_arrivals.get(first + 1)
        if arrived is not None and at_before is not None and at_after is not None:
            gap_before, gap_after = abs(arrived - at_before), abs(arrived - at_after)
            if gap_after + INFORMATIVE_ARRIVAL_GAP < gap_before:
                return reference.offset_frames + after
        return reference.offset_frames + before

    def _silence_granted(self, track: Track, frames: int, now: float | None) -> int:
        """How many of ``frames`` silent frames the call's clock allows on ``track``: up to
        the later of the wall-clock time since the first frame and the longest audio a leg
        sent, plus the allowance. The rest is refused and counted."""
        if now is not None and now > self._now:
            self._now = now
        elapsed = 0 if self._started is None else (self._now - self._started) * SAMPLE_RATE
        sent = max(t.bytes for t in self.tracks.values())
        room = int(max(elapsed, sent)) + self._allowance - track.next_sample
        granted = max(0, min(frames, room // track.frame_bytes))
        if granted < frames:
            track.silence_refused_samples += (frames - granted) * track.frame_bytes
        return granted

    def _tap(self, perspective: str, start: int, payload: bytes | None, length: int) -> None:
        samples = mulaw.decode(payload) if payload is not None else np.zeros(length, np.int16)
        chunk = TapChunk(perspective, start, samples, payload is None)
        for tap in self.taps:
            tap.offer(chunk)

    def _commit(self) -> None:
        placed = [t for t in self.tracks.values() if t.placed]
        if not placed:
            return
        ends = [t.next_sample for t in placed]
        active = [t.next_sample for t in placed if not t.stopped]
        horizon = max(min(active) if active else max(ends), max(ends) - self._lag_samples)
        self.writer.commit(horizon)

    # --- reporting --------------------------------------------------------------------------
    def _numbering(self) -> str:
        modes = {f.sequencer.mode for f in self.feeds} - {UNDETERMINED}
        if not modes:
            return UNDETERMINED
        return modes.pop() if len(modes) == 1 else "mixed"

    def stats(self) -> StreamStats:
        """This call's ``Call.stream_stats``, laid out as ``StreamStats`` says (the admin and
        ``manage.py calls`` show every key of that layout)."""
        perspectives: dict[str, PerspectiveStats] = {}
        for name, track in self.tracks.items():
            counters = [f.sequencer.counters[name] for f in self.feeds]
            first = [
                f.sequencer.first_sequence[name]
                for f in self.feeds
                if name in f.sequencer.first_sequence
            ]
            last = [
                f.sequencer.last_sequence[name]
                for f in self.feeds
                if name in f.sequencer.last_sequence
            ]
            perspectives[name] = {
                "channel": CHANNEL_NAME[track.channel],
                "frames_received": track.frames_received,
                "frames_written": track.frames_written,
                "duplicates": sum(c.duplicates for c in counters),
                "reordered": sum(c.reordered for c in counters),
                "gaps_filled_frames": track.gaps_filled_frames,
                "gaps_filled_ms": round(track.gaps_filled_samples * 1000 / SAMPLE_RATE),
                "silence_refused_ms": round(track.silence_refused_samples * 1000 / SAMPLE_RATE),
                "late_dropped": sum(c.late for c in counters),
                "sequence_jumps": sum(c.jumps for c in counters),
                "bytes": track.bytes,
                "first_sequence": first[0] if first else None,
                "last_sequence": max(last) if last else None,
                "offset_frames": track.offset_frames,
                "samples_written": max(0, track.next_sample - track.offset_samples)
                if track.placed
                else 0,
                "frame_bytes": track.frame_bytes,
                "stopped": track.stopped,
            }
        stats: StreamStats = {
            "numbering": self._numbering(),
            "sockets": len(self.feeds),
            "errors": dict(self.errors),
            "perspectives": perspectives,
            "recording": {
                "format": RECORDING_FORMAT,
                "channels": 2,
                "sample_rate": SAMPLE_RATE,
                "seconds": round(self.writer.committed / SAMPLE_RATE, 3),
                "bytes": self.writer.data_bytes + 44,
                "patched_samples": self.writer.patched_samples,
            },
            "taps": {"subscribers": len(self.taps), "dropped": sum(t.dropped for t in self.taps)},
        }
        if self.lag.count:
            stats["lag_ms"] = cast(LagStats, self.lag.to_dict())
        return stats
