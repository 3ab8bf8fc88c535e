"""What the call page shows, read in a fixed number of queries and shaped for the template.

The view stays thin: it asks :func:`call_page_call` for the call (scoped by
``calls_visible_to``) and :func:`call_page_context` for everything else. Stream quality comes
from the layout the ingest writes (``ringadmin.calls.stream_stats_layout``), as tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from typing import Any

from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.core.exceptions import ObjectDoesNotExist
from django.utils.safestring import SafeString, mark_safe

from ringadmin.calls.models import Call, CallAnalysis
from ringadmin.calls.selectors import calls_visible_to
from ringadmin.calls.stream_stats import section_items, stats_mapping, stats_perspectives
from ringadmin.calls.stream_stats_layout import LagStats, PerspectiveStats, label
from ringadmin.compliance.consent_search import consent_summary
from ringadmin.compliance.legal_holds import legal_holds_of_call
from ringadmin.compliance.models import CallPurge, ConsentRecord
from streaming.models import Transcript
from streaming.transcription.exports import clock, speaker_label
from streaming.transcription.selectors import call_transcript, transcript_turn_rows

LEG_SIDES = {"Participant": "Agent", "Conference": "Caller"}
LEG_KEYS = (
    "frames_received",
    "frames_written",
    "gaps_filled_frames",
    "gaps_filled_ms",
    "late_dropped",
    "duplicates",
    "reordered",
    "sequence_jumps",
    "silence_refused_ms",
)
LAG_KEYS = ("count", "p50", "p95", "p99", "max")
EMPTY = "—"


def call_page_call(*, user: AbstractUser | AnonymousUser, call_id: int) -> Call | None:
    """The call with its analysis (without the waveform blob) and its tombstone, if the user
    may see it."""
    return (
        calls_visible_to(user=user)
        .select_related("analysis", "purge", "consent__notice__series")
        .defer("analysis__peaks")
        .filter(pk=call_id)
        .first()
    )


def duration_text(seconds: float | None) -> str:
    """``42 s``, ``3:07``, ``1:02:05``: how long, at a glance."""
    if seconds is None:
        return EMPTY
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _cell(value: Any) -> str:
    if value is None or value == "":
        return EMPTY
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _heading(text: str) -> str:
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class Table:
    headings: list[str]
    rows: list[list[str]]


def stream_quality(stats: Any) -> dict[str, Any]:
    """Per-leg counts, lag percentiles and the call-wide figures, each as a small table."""
    legs = stats_perspectives(stats)
    leg_table = Table(
        ["Side", *(_heading(label(PerspectiveStats, key).long) for key in LEG_KEYS)],
        [
            [
                f"{LEG_SIDES.get(name, name)} ({name})",
                *(_cell(values.get(key)) for key in LEG_KEYS),
            ]
            for name, values in legs.items()
        ],
    )
    lag = dict(section_items(stats, "lag_ms"))
    lag_table = Table(
        [_heading(label(LagStats, key).long) for key in LAG_KEYS],
        [[_cell(lag.get(key)) for key in LAG_KEYS]] if lag else [],
    )
    recording = stats_mapping(stats, "recording")
    errors = stats_mapping(stats, "errors")
    summary = [
        ("Sockets", _cell(stats.get("sockets") if isinstance(stats, dict) else None)),
        ("Sequence numbering", _cell(stats.get("numbering") if isinstance(stats, dict) else None)),
        ("Recorded", duration_text(recording.get("seconds"))),
        ("Bad frames", ", ".join(f"{k}: {v}" for k, v in errors.items()) or "none"),
    ]
    return {
        "legs": leg_table,
        "lag": lag_table,
        "summary": summary,
        "present": bool(legs or lag or recording),
    }


def talk_shares(analysis: CallAnalysis) -> list[dict[str, Any]]:
    """The stacked bar: agent alone, both at once, caller alone, nobody (sums to the call)."""
    total = analysis.audio_seconds or 0.0
    parts = [
        ("agent", "Agent alone", analysis.agent_talk_seconds - analysis.overtalk_seconds),
        ("overtalk", "Both at once", analysis.overtalk_seconds),
        ("caller", "Caller alone", analysis.caller_talk_seconds - analysis.overtalk_seconds),
        ("silence", "Silence", analysis.silence_seconds),
    ]
    return [
        {
            "key": key,
            "label": text,
            "seconds": duration_text(max(seconds, 0.0)),
            "percent": round(100 * max(seconds, 0.0) / total, 1) if total else 0.0,
        }
        for key, text, seconds in parts
    ]


def recording_filename(call: Call, extension: str) -> str:
    """``call-<RingCX id>-<YYYYmmdd-HHMMSS>.<ext>``: names a download, says nothing of paths."""
    safe_id = re.sub(r"[^A-Za-z0-9_-]+", "_", call.ringcx_call_id)[:64] or str(call.pk)
    return f"call-{safe_id}-{call.started_at:%Y%m%d-%H%M%S}.{extension}"


TURN_HTML = (
    '<li class="turn turn-{speaker}" data-start="{start:.3f}" data-end="{end:.3f}">'
    '<button type="button" class="turn-seek" aria-label="Play from {at}, {who}">{at}</button>'
    '<span class="turn-who">{who}</span><p class="turn-text">{text}</p></li>\n'
)


def turns_html(turns: list[dict[str, Any]]) -> SafeString:
    """The transcript's list items, every text value HTML-escaped (quotes too). Built here
    rather than in a template loop: an hour-long call has hundreds of turns, and this is
    about ten times faster."""
    return mark_safe(  # noqa: S308 - each interpolated string is escaped just below
        "".join(
            TURN_HTML.format(
                speaker=escape(turn["speaker"]),
                start=float(turn["start"]),
                end=float(turn["end"]),
                at=escape(turn["at"]),
                who=escape(turn["who"]),
                text=escape(turn["text"]),
            )
            for turn in turns
        )
    )


def call_analysis_or_none(call: Call) -> CallAnalysis | None:
    try:
        return call.analysis
    except ObjectDoesNotExist:
        return None


def call_purge_or_none(call: Call) -> CallPurge | None:
    try:
        return call.purge
    except ObjectDoesNotExist:
        return None


def _consent_or_none(call: Call) -> ConsentRecord | None:
    """The record fetched with the call (no query), or read when the call came without it."""
    try:
        return call.consent
    except ObjectDoesNotExist:
        return None


def call_page_context(*, call: Call, user: AbstractUser | AnonymousUser) -> dict[str, Any]:
    analysis = call_analysis_or_none(call)
    transcript: Transcript | None = call_transcript(call=call)
    rows = transcript_turn_rows(transcript=transcript) if transcript is not None else []
    shown_turns = [
        {**row, "who": speaker_label(row["speaker"]), "at": clock(row["start"])} for row in rows
    ]
    audio_seconds = analysis.audio_seconds if analysis is not None else call.duration_seconds or 0.0
    return {
        "call": call,
        "duration": duration_text(call.duration_seconds),
        "quality": stream_quality(call.stream_stats),
        "analysis": analysis,
        "shares": talk_shares(analysis) if analysis is not None else [],
        "agent_talk": duration_text(analysis.agent_talk_seconds) if analysis else EMPTY,
        "caller_talk": duration_text(analysis.caller_talk_seconds) if analysis else EMPTY,
        "silence": duration_text(analysis.silence_seconds) if analysis else EMPTY,
        "overtalk": duration_text(analysis.overtalk_seconds) if analysis else EMPTY,
        "monologue": duration_text(analysis.longest_monologue_seconds) if analysis else EMPTY,
        "transcript": transcript,
        "turns": shown_turns,
        "turns_html": turns_html(shown_turns),
        "has_recording": bool(call.recording_path),
        "can_play": bool(call.recording_path) and user.has_perm("calls.play_recording"),
        "can_download": bool(call.recording_path) and user.has_perm("calls.download_recording"),
        "player": {"seconds": audio_seconds},
        "legal_holds": legal_holds_of_call(call),
        "purge": call_purge_or_none(call),
        "consent": consent_summary(_consent_or_none(call)),
    }
