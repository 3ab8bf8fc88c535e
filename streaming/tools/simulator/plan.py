"""The plan of one simulated call: every fault decided up front (seeded), then each socket's
sends laid out in order, and the malformed frames the ingest must survive."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from .audio import FRAME_SECONDS
from .config import LATE_SECONDS, MALFORMED_KINDS, SimulationConfig

MEDIA, DUPLICATE, MALFORMED, STOP = 0, 1, 2, 3
LATE, REORDERED = 1, 2  # flags
_BEFORE = 1e-6  # a malformed copy goes just before its frame; a duplicate or Stop just after


@dataclass
class SocketPlan:
    """Every message of one socket, in send order. Arrays, not objects: hundreds of calls."""

    perspectives: tuple[int, ...]
    connect_at: float
    due: np.ndarray  # seconds after the call's stream clock starts
    kind: np.ndarray
    perspective: np.ndarray
    sequence_id: np.ndarray
    ref: np.ndarray  # frame index (Media/duplicate) or malformed kind
    flags: np.ndarray


def plan_call(
    config: SimulationConfig, frames: int, rng: np.random.Generator
) -> tuple[list[SocketPlan], list[int]]:
    """Decide every fault of one call up front (seeded), then lay each socket's sends in order.

    Returns the socket plans and the frames dropped per perspective.
    """
    late_start = config.late_start_ms / 1000.0
    index = np.arange(frames)
    nominal = [index * FRAME_SECONDS, late_start + index * FRAME_SECONDS]
    sockets = [(0,), (1,)] if config.split_perspectives else [(0, 1)]

    # Sequence ids. Per socket: one counter over the nominal interleaving on that socket.
    sequence = [index + 1, index + 1]
    if config.numbering == "per-socket" and not config.split_perspectives:
        dues = np.concatenate(nominal)
        which = np.concatenate([np.zeros(frames, np.int8), np.ones(frames, np.int8)])
        order = np.lexsort((which, dues))
        numbers = np.empty(2 * frames, np.int64)
        numbers[order] = np.arange(1, 2 * frames + 1)
        sequence = [numbers[:frames], numbers[frames:]]

    dropped_counts = [0, 0]
    rows: dict[int, list[tuple[np.ndarray, ...]]] = {0: [], 1: []}
    for p in (0, 1):
        due = nominal[p].copy()
        flags = np.zeros(frames, np.int8)
        dropped = rng.random(frames) < config.drop_pct / 100
        late = ~dropped & (rng.random(frames) < config.late_pct / 100)
        due[late] += rng.uniform(*LATE_SECONDS, int(late.sum()))
        flags[late] |= LATE
        if config.reorder_pct > 0:
            # Frame j is held back until just after frame k (up to ``depth`` later): k and the
            # frames between overtake it. Never sent early: live audio cannot leave before it
            # exists, and a server may rely on that. Events do not overlap, so each reordered
            # frame arrives after exactly the frames that overtook it.
            draws = rng.random(frames)
            steps = rng.integers(1, config.reorder_depth + 1, frames)
            free = ~dropped & ~late
            for j in np.flatnonzero(draws < config.reorder_pct / 100):
                k = j + steps[j]
                if k < frames and free[j : k + 1].all():
                    due[j] = due[k] + _BEFORE
                    free[j : k + 1] = False
                    flags[j] |= REORDERED
        sent = ~dropped
        dropped_counts[p] = int(dropped.sum())
        kept = np.flatnonzero(sent)
        rows[p].append((due[kept], np.full(len(kept), MEDIA), sequence[p][kept], kept, flags[kept]))
        duplicated = kept[rng.random(len(kept)) < config.duplicate_pct / 100]
        if len(duplicated):
            delay = rng.integers(0, 3, len(duplicated)) * FRAME_SECONDS + _BEFORE
            rows[p].append(
                (
                    due[duplicated] + delay,
                    np.full(len(duplicated), DUPLICATE),
                    sequence[p][duplicated],
                    duplicated,
                    flags[duplicated],
                )
            )

    plans = []
    for members in sockets:
        parts = []
        for p in members:
            for due, kind, seq, ref, flags in rows[p]:
                parts.append((due, kind, np.full(len(due), p), seq, ref, flags))
        due = np.concatenate([part[0] for part in parts])
        kind = np.concatenate([part[1] for part in parts])
        persp = np.concatenate([part[2] for part in parts])
        seq = np.concatenate([part[3] for part in parts])
        ref = np.concatenate([part[4] for part in parts])
        flags = np.concatenate([part[5] for part in parts])
        media = np.flatnonzero(kind == MEDIA)
        malformed = rng.binomial(len(media), config.malformed_pct / 100) if len(media) else 0
        if malformed:
            anchors = rng.choice(media, malformed, replace=False)
            kinds = rng.integers(0, len(MALFORMED_KINDS), malformed)
            due = np.concatenate([due, due[anchors] - _BEFORE])
            kind = np.concatenate([kind, np.full(malformed, MALFORMED)])
            persp = np.concatenate([persp, persp[anchors]])
            seq = np.concatenate([seq, seq[anchors]])
            ref = np.concatenate([ref, kinds])
            flags = np.concatenate([flags, np.zeros(malformed, np.int8)])
        stops = []
        for p in members:
            mine = due[persp == p]
            end = max(nominal[p][-1] + FRAME_SECONDS, float(mine.max()) if len(mine) else 0.0)
            stops.append((end + _BEFORE, p))
        due = np.concatenate([due, [s[0] for s in stops]])
        kind = np.concatenate([kind, np.full(len(stops), STOP)])
        persp = np.concatenate([persp, [s[1] for s in stops]])
        seq = np.concatenate([seq, np.zeros(len(stops), np.int64)])
        ref = np.concatenate([ref, np.zeros(len(stops), np.int64)])
        flags = np.concatenate([flags, np.zeros(len(stops), np.int8)])
        order = np.lexsort((np.arange(len(due)), due))
        plans.append(
            SocketPlan(
                perspectives=members,
                connect_at=min(float(nominal[p][0]) for p in members),
                due=due[order],
                kind=kind[order].astype(np.int8),
                perspective=persp[order].astype(np.int8),
                sequence_id=seq[order].astype(np.int64),
                ref=ref[order].astype(np.int64),
                flags=flags[order].astype(np.int8),
            )
        )
    return plans, dropped_counts


def malformed_text(kind: int, perspective: str, sequence_id: int) -> str:
    """Bad frames the ingest must count and survive. A bad-base64 frame carries the sequence id
    of the genuine frame sent right after it, so accepting it would corrupt the recording."""
    name = MALFORMED_KINDS[kind]
    if name == "invalid_json":
        return '{"event":"Media","perspective":"' + perspective + '","sequenceId":'
    if name == "unknown_event":
        return json.dumps({"event": "Mystery", "sequenceId": str(sequence_id)})
    if name == "bad_base64":
        return json.dumps(
            {
                "event": "Media",
                "perspective": perspective,
                "sequenceId": str(sequence_id),
                "media": "%%%not-base64%%%",
            }
        )
    return json.dumps({"event": "Media", "perspective": 7, "sequenceId": [sequence_id], "media": 1})
