"""The API's JSON shapes (read-only)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ringadmin.calls.models import Call, CallAnalysis
from ringadmin.calls.stream_stats import (
    SECTIONS,
    perspective_columns,
    section_items,
    stats_mapping,
    stats_perspectives,
    unknown_items,
)
from ringadmin.compliance.consent_search import consent_record_of, consent_summary
from ringadmin.compliance.models import AuditEvent
from streaming.models import Transcript, TranscriptSegment

LEG_SIDES = {"Participant": "agent", "Conference": "caller"}


def readable_stream_stats(stats: Any) -> dict[str, Any]:
    """``Call.stream_stats`` in the admin's order: call-wide figures, one entry per leg (agent
    first), the sections, then whatever a newer ingest wrote that the layout does not name."""
    if not isinstance(stats, dict) or not stats:
        return {}
    readable: dict[str, Any] = {
        "numbering": stats.get("numbering"),
        "sockets": stats.get("sockets"),
        "errors": stats_mapping(stats, "errors"),
    }
    columns = [key for key, _ in perspective_columns(stats)]
    readable["legs"] = [
        {"leg": name, "side": LEG_SIDES.get(name), **{k: leg[k] for k in columns if k in leg}}
        for name, leg in stats_perspectives(stats).items()
    ]
    for section in SECTIONS:
        readable[section] = dict(section_items(stats, section))
    readable["other"] = dict(unknown_items(stats))
    return readable


class StreamLegSerializer(serializers.Serializer):
    """One leg of the call; the ingest's per-leg counters follow ``side``."""

    leg = serializers.CharField(help_text="RingCX perspective: Participant or Conference.")
    side = serializers.CharField(allow_null=True, help_text="agent, caller, or null if unknown.")
    channel = serializers.CharField(required=False, help_text="left (agent) or right (caller)")
    frames_received = serializers.IntegerField(required=False)
    frames_written = serializers.IntegerField(required=False)
    gaps_filled_ms = serializers.IntegerField(required=False)
    late_dropped = serializers.IntegerField(required=False)


class StreamStatsSerializer(serializers.Serializer):
    """What the ingest measured; empty for a call it did not record (a demo call)."""

    numbering = serializers.CharField(allow_null=True, required=False)
    sockets = serializers.IntegerField(allow_null=True, required=False)
    # A field named like Serializer.errors: DRF takes declared fields off the class.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.IntegerField(), required=False
    )
    legs = StreamLegSerializer(many=True, required=False)
    recording = serializers.DictField(required=False, help_text="format, seconds, sha256…")
    taps = serializers.DictField(required=False, help_text="live listeners of the audio")
    lag_ms = serializers.DictField(required=False, help_text="ingest lag percentiles")
    other = serializers.DictField(required=False, help_text="figures not in the layout yet")


class CallSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:call-detail")
    has_recording = serializers.SerializerMethodField()

    class Meta:
        model = Call
        fields: tuple[str, ...] = (
            "id",
            "url",
            "ringcx_call_id",
            "session_id",
            "status",
            "started_at",
            "ended_at",
            "duration_seconds",
            "end_reason",
            "agent_id",
            "ani",
            "dnis",
            "product_type",
            "product_id",
            "has_recording",
        )
        read_only_fields = fields

    def get_has_recording(self, call: Call) -> bool:
        return bool(call.recording_path)


class CallAnalysisSerializer(serializers.ModelSerializer):
    class Meta:
        model = CallAnalysis
        exclude = ("call",)
        read_only_fields = (
            "audio_seconds",
            "agent_talk_seconds",
            "caller_talk_seconds",
            "silence_seconds",
            "overtalk_seconds",
            "longest_monologue_seconds",
            "longest_monologue_speaker",
            "agent_interruptions",
            "caller_interruptions",
            "computed_at",
        )


class TranscriptSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Transcript
        fields = ("id", "kind", "engine", "model", "status", "created_at", "completed_at")
        read_only_fields = fields


class ConsentNoticeRefSerializer(serializers.Serializer):
    series = serializers.CharField()
    version = serializers.IntegerField()
    kind = serializers.CharField()
    language = serializers.CharField()
    key_phrase = serializers.CharField()


class ConsentSerializer(serializers.Serializer):
    """A call's consent record (schema only: the values come from ``consent_summary``)."""

    outcome = serializers.CharField()
    outcome_label = serializers.CharField()
    method = serializers.CharField()
    method_label = serializers.CharField()
    given_by = serializers.CharField()
    given_at = serializers.DateTimeField(allow_null=True)
    recording_offset_seconds = serializers.FloatField(allow_null=True)
    verification = serializers.CharField()
    verification_label = serializers.CharField()
    verification_score = serializers.FloatField(allow_null=True)
    notice = ConsentNoticeRefSerializer(allow_null=True)
    exception = serializers.BooleanField()


class CallDetailSerializer(CallSerializer):
    stream_stats = serializers.SerializerMethodField()
    analysis = serializers.SerializerMethodField()
    transcripts = TranscriptSummarySerializer(many=True, read_only=True)
    consent = serializers.SerializerMethodField()
    transcript_url = serializers.HyperlinkedIdentityField(view_name="api:call-transcript")
    recording_url = serializers.HyperlinkedIdentityField(view_name="api:call-recording")

    class Meta(CallSerializer.Meta):
        fields = (
            *CallSerializer.Meta.fields,
            "account_id",
            "subaccount_id",
            "rc_account_id",
            "stream_stats",
            "analysis",
            "transcripts",
            "consent",
            "transcript_url",
            "recording_url",
        )
        read_only_fields = fields

    @extend_schema_field(StreamStatsSerializer)
    def get_stream_stats(self, call: Call) -> dict[str, Any]:
        return readable_stream_stats(call.stream_stats)

    @extend_schema_field(CallAnalysisSerializer(allow_null=True))
    def get_analysis(self, call: Call) -> dict[str, Any] | None:
        analysis = getattr(call, "analysis", None)  # absent until computed after the call
        return CallAnalysisSerializer(analysis).data if analysis is not None else None

    @extend_schema_field(ConsentSerializer(allow_null=True))
    def get_consent(self, call: Call) -> dict[str, Any] | None:
        return consent_summary(consent_record_of(call=call))


class TranscriptSegmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = TranscriptSegment
        fields = ("seq", "speaker", "start", "end", "text", "confidence", "words", "redactions")
        read_only_fields = fields


class TranscriptSerializer(serializers.ModelSerializer):
    call: serializers.PrimaryKeyRelatedField[Call] = serializers.PrimaryKeyRelatedField(
        read_only=True
    )
    segments = TranscriptSegmentSerializer(many=True, read_only=True)

    class Meta:
        model = Transcript
        fields = (
            "id",
            "call",
            "kind",
            "engine",
            "model",
            "status",
            "created_at",
            "completed_at",
            "segments",
        )
        read_only_fields = fields


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_label", read_only=True)
    call = serializers.IntegerField(source="call_id", read_only=True, allow_null=True)

    class Meta:
        model = AuditEvent
        fields = (
            "sequence",
            "occurred_at",
            "event_type",
            "actor",
            "target_type",
            "target_id",
            "call",
            "ip_address",
            "user_agent",
            "data",
            "prev_hash",
            "entry_hash",
        )
        read_only_fields = fields


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField(help_text="not_authenticated, token_revoked, not_found…")
