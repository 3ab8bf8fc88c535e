"""``manage.py calls list|show``: call records, their stream statistics and recording path.

For operators on the server (no user, no role): reads go straight to the ``Call`` table. A call
id RingCX reuses across sessions is shown session by session unless ``--session`` picks one.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError
from django.db.models import Count, Prefetch

from ringadmin.calls.models import Call, CallStatus
from ringadmin.calls.stream_stats import (
    compact,
    perspective_columns,
    section_items,
    stats_mapping,
    stats_perspectives,
    unknown_items,
)
from streaming.management.subcommands import (
    SubcommandsCommand,
    arg,
    iso_utc,
    positive_int,
    subcommand,
    table,
    utc_text,
)
from streaming.transcription.models import Transcript

DEFAULT_LIMIT = 20
# stream_stats["recording"] keys with a unit of their own on the "audio" line, in this order;
# its other keys follow, in the layout's order.
RECORDING_UNITS = {
    "format": "{}",
    "channels": "{} ch",
    "sample_rate": "{} Hz",
    "seconds": "{} s",
    "bytes": "{} bytes",
}


def call_as_dict(call: Call) -> dict[str, Any]:
    """The stable JSON shape of a call; ``stream_stats`` exactly as the ingest wrote it."""
    return {
        "id": call.pk,
        "ringcx_call_id": call.ringcx_call_id,
        "session_id": call.session_id,
        "status": call.status,
        "started_at": iso_utc(call.started_at),
        "ended_at": iso_utc(call.ended_at),
        "duration_seconds": call.duration_seconds,
        "ani": call.ani,
        "dnis": call.dnis,
        "agent_id": call.agent_id,
        "account_id": call.account_id,
        "subaccount_id": call.subaccount_id,
        "rc_account_id": call.rc_account_id,
        "product_type": call.product_type,
        "product_id": call.product_id,
        "end_reason": call.end_reason,
        "recording_path": call.recording_path,
        "stream_stats": call.stream_stats or {},
        "transcripts": [
            {
                "kind": t.kind,
                "engine": t.engine,
                "model": t.model,
                "status": t.status,
                "progress": t.progress,
                "segments": t.segment_count,  # type: ignore[attr-defined]  # with_transcripts
                "error": t.error,
            }
            for t in call.transcripts.all()
        ],
    }


def with_transcripts(calls):
    """Calls with their transcripts (and segment counts) in two queries, not one per call."""
    return calls.prefetch_related(
        Prefetch(
            "transcripts",
            queryset=Transcript.objects.annotate(segment_count=Count("segments")).order_by(
                "kind", "created_at"
            ),
        )
    )


def frames_summary(stats: dict[str, Any]) -> str:
    """``Participant 1500 / Conference 1498`` — frames received per perspective, for lists."""
    return " / ".join(
        f"{name} {values.get('frames_received', '?')}"
        for name, values in stats_perspectives(stats).items()
    )


def describe_recording(stats: dict[str, Any]) -> str:
    """``wav, 2 ch, 8000 Hz, 120.0 s, 3840044 bytes, patched_samples 0`` from
    ``stream_stats["recording"]``: every key of it."""
    recording = dict(section_items(stats, "recording"))
    parts = [
        unit.format(recording[key]) for key, unit in RECORDING_UNITS.items() if key in recording
    ]
    parts += [f"{key} {compact(v)}" for key, v in recording.items() if key not in RECORDING_UNITS]
    return ", ".join(p for p in parts if p)


class Command(SubcommandsCommand):
    help = "Show call records with their stream statistics and recording path."

    @subcommand(
        "list",
        help="Most recent calls first.",
        args=(
            arg("--live", action="store_true", help="only calls being streamed now"),
            arg("--limit", type=positive_int, default=DEFAULT_LIMIT, metavar="N"),
        ),
    )
    def list_calls(self, options: dict[str, Any]) -> None:
        calls = with_transcripts(Call.objects.order_by("-started_at", "-id"))
        if options["live"]:
            calls = calls.filter(status=CallStatus.LIVE)
        found = list(calls[: options["limit"]])
        if options["json"]:
            self.write_json([call_as_dict(c) for c in found])
            return
        if not found:
            self.stdout.write("No live calls." if options["live"] else "No calls.")
            return
        rows = [
            (
                utc_text(c.started_at),
                c.ringcx_call_id,
                c.session_id,
                c.status,
                "" if c.duration_seconds is None else f"{c.duration_seconds:.1f}",
                c.agent_id,
                f"{c.product_type} {c.product_id}".strip(),
                frames_summary(c.stream_stats),
                c.recording_path,
            )
            for c in found
        ]
        headers = ("STARTED (UTC)", "CALL ID", "SESSION", "STATUS", "SECONDS", "AGENT")
        self.stdout.write(table((*headers, "PRODUCT", "FRAMES", "RECORDING"), rows))

    @subcommand(
        "show",
        help="One call by RingCX call id: every session of it, or the one --session names.",
        args=(
            arg("ringcx_call_id", metavar="CALL_ID", help="RingCX call id"),
            arg("--session", metavar="ID", help="only this session id"),
        ),
    )
    def show_call(self, options: dict[str, Any]) -> None:
        call_id, session = options["ringcx_call_id"], options["session"]
        calls = with_transcripts(
            Call.objects.filter(ringcx_call_id=call_id).order_by("started_at", "id")
        )
        if session is not None:
            calls = calls.filter(session_id=session)
        found = list(calls)
        if not found:
            which = f" and session id {session!r}" if session is not None else ""
            raise CommandError(f"no call with RingCX call id {call_id!r}{which}")
        if options["json"]:
            self.write_json([call_as_dict(c) for c in found])
            return
        self.stdout.write("\n\n".join(self._describe(c) for c in found))

    def _describe(self, call: Call) -> str:
        stats = call.stream_stats if isinstance(call.stream_stats, dict) else {}
        duration = "" if call.duration_seconds is None else f"{call.duration_seconds:.1f} s"
        lines = [
            f"Call {call.ringcx_call_id} session {call.session_id or '-'} ({call.status})",
            f"  started     {utc_text(call.started_at)} UTC",
            f"  ended       {utc_text(call.ended_at)}{' UTC' if call.ended_at else ''}",
            f"  duration    {duration or '-'}",
            f"  caller      ANI {call.ani or '-'} -> DNIS {call.dnis or '-'}",
            f"  agent       {call.agent_id or '-'}",
            f"  accounts    RingCX {call.account_id or '-'} / sub-account "
            f"{call.subaccount_id or '-'} / RingCentral {call.rc_account_id or '-'}",
            f"  product     {call.product_type or '-'} {call.product_id}".rstrip(),
            f"  end reason  {call.end_reason or '-'}",
            f"  recording   {call.recording_path or '-'}",
            *(
                f"  transcript  {t.get_kind_display().lower()}: {t.engine} ({t.model}), "
                f"{t.get_status_display().lower()}, {t.segment_count} turn(s)"  # type: ignore[attr-defined]
                + (f", {t.error}" if t.error else "")
                for t in call.transcripts.all()
            ),
        ]
        if not stats:
            lines.append("  stream      no statistics (demo call, or nothing received yet)")
            return "\n".join(lines)
        recording = describe_recording(stats)
        if recording:
            lines.append(f"  audio       {recording}")
        errors = stats_mapping(stats, "errors")
        error_text = ", ".join(f"{k} {v}" for k, v in errors.items()) or "none"
        taps = dict(section_items(stats, "taps"))
        other_taps = ", ".join(f"{k} {compact(v)}" for k, v in taps.items() if k != "dropped")
        lines.append(
            f"  stream      numbering {stats.get('numbering', '?')}, "
            f"{stats.get('sockets', '?')} socket(s), errors: {error_text}, "
            f"taps dropped {taps.get('dropped', 0)}" + (f" ({other_taps})" if other_taps else "")
        )
        lag = ", ".join(f"{k} {compact(v)}" for k, v in section_items(stats, "lag_ms"))
        if lag:
            lines.append(f"  lag ms      {lag}")
        lines.extend(f"  {key:<11} {compact(value)}" for key, value in unknown_items(stats))
        perspectives = stats_perspectives(stats)
        if perspectives:
            columns = perspective_columns(stats)
            rows = [
                (name, *(compact(values.get(key)) for key, _ in columns))
                for name, values in perspectives.items()
            ]
            headers = ("PERSPECTIVE", *(label.short for _, label in columns))
            lines.append("")
            lines.extend(f"  {line}" for line in table(headers, rows).splitlines())
        return "\n".join(lines)
