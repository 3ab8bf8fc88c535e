"""The call record: streaming fills it; supervision, transcripts and compliance point at it."""

from __future__ import annotations

from django.db import models


class CallStatus(models.TextChoices):
    LIVE = "live", "Live"
    COMPLETED = "completed", "Completed"
    INCOMPLETE = "incomplete", "Incomplete"
    REJECTED = "rejected", "Rejected"


class Call(models.Model):
    """One RingCX call (call id + session id), with what RingCX told us about it.

    All times are UTC. ``metadata`` keeps the Start metadata exactly as received and
    ``handshake`` the handshake's query parameters (secrets redacted), because RingCX's field
    names are not fully documented and admins need to see what arrived.
    """

    ringcx_call_id = models.CharField("RingCX call id", max_length=64, db_index=True)
    session_id = models.CharField("session id", max_length=64, blank=True)
    ani = models.CharField("ANI (caller)", max_length=64, blank=True)
    dnis = models.CharField("DNIS (dialled)", max_length=64, blank=True)
    account_id = models.CharField("RingCX account id", max_length=64, blank=True)
    subaccount_id = models.CharField("RingCX sub-account id", max_length=64, blank=True)
    rc_account_id = models.CharField("RingCentral account id", max_length=64, blank=True)
    agent_id = models.CharField(max_length=64, blank=True, db_index=True)
    product_type = models.CharField(
        max_length=16, blank=True, help_text="Queue, Campaign or Manual"
    )
    product_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=16, choices=CallStatus.choices, default=CallStatus.LIVE, db_index=True
    )
    started_at = models.DateTimeField(db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    end_reason = models.CharField(max_length=200, blank=True)
    recording_path = models.CharField(max_length=500, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    handshake = models.JSONField(default=dict, blank=True)
    stream_stats = models.JSONField(default=dict, blank=True)
    ingest_owner = models.CharField(
        max_length=200,
        blank=True,
        help_text="host:pid:start of the ingest process writing the recording (crash recovery).",
    )
    is_demo = models.BooleanField(default=False, help_text="Seeded demo data, not a real call.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["ringcx_call_id", "session_id"], name="call_unique_ringcx_call_session"
            )
        ]
        # The calls list pages by keyset on (sort key, id), newest first by default: each
        # ordering and each selective filter has an index that yields its rows in that order,
        # so a page is an index range scan at any depth (monitoring/call_search.py).
        indexes = [
            models.Index(fields=["-started_at", "-id"], name="call_started_id"),
            models.Index(
                fields=["duration_seconds", "id"],
                name="call_duration_id",
                condition=models.Q(duration_seconds__isnull=False),
            ),
            models.Index(fields=["agent_id", "-started_at", "-id"], name="call_agent_started"),
            models.Index(fields=["agent_id", "id"], name="call_agent_id"),
            models.Index(fields=["status", "-started_at", "-id"], name="call_status_started"),
            models.Index(fields=["status", "id"], name="call_status_id"),
            models.Index(
                fields=["product_type", "product_id", "-started_at", "-id"],
                name="call_product_started",
            ),
            models.Index(fields=["ani", "-started_at"], name="call_ani_started"),
            models.Index(fields=["dnis", "-started_at"], name="call_dnis_started"),
            models.Index(
                fields=["-started_at", "-id"],
                name="call_no_recording_started",
                condition=models.Q(recording_path=""),
            ),
        ]
        permissions = [
            ("view_live_call", "Can watch live calls"),
            ("play_recording", "Can play call recordings"),
            ("download_recording", "Can download call recordings"),
        ]

    def __str__(self) -> str:
        session = f"/{self.session_id}" if self.session_id else ""
        return f"call {self.ringcx_call_id}{session}"


class Speaker(models.TextChoices):
    """Which side of the stereo recording: the agent is the left channel, the caller the right."""

    AGENT = "agent", "Agent"
    CALLER = "caller", "Caller"


class CallAnalysis(models.Model):
    """What the stereo recording says about the conversation, computed once after the call.

    The agent is alone on the left channel and the caller on the right, so talk time, silence,
    overtalk and interruptions come from voice activity per channel without any diarisation.
    The waveform peaks are computed in the same pass and stored, never recomputed per view.
    """

    call = models.OneToOneField(
        Call, on_delete=models.CASCADE, related_name="analysis", primary_key=True
    )
    audio_seconds = models.FloatField(help_text="Length of the recording analysed.")
    agent_talk_seconds = models.FloatField(db_index=True)
    caller_talk_seconds = models.FloatField(db_index=True)
    silence_seconds = models.FloatField(help_text="Neither side speaking.")
    overtalk_seconds = models.FloatField(db_index=True, help_text="Both sides speaking at once.")
    longest_monologue_seconds = models.FloatField(db_index=True)
    longest_monologue_speaker = models.CharField(max_length=8, choices=Speaker.choices, blank=True)
    agent_interruptions = models.PositiveIntegerField(
        default=0, help_text="Times the agent started speaking while the caller was speaking."
    )
    caller_interruptions = models.PositiveIntegerField(
        default=0, help_text="Times the caller started speaking while the agent was speaking."
    )
    peaks = models.BinaryField(
        default=b"",
        blank=True,
        editable=False,
        help_text="Waveform peaks: min and max per bucket and channel, int8, with a small header.",
    )
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "call analyses"
        # Keyset pages of the calls list sorted by a measure: (measure, call id).
        indexes = [
            models.Index(fields=["overtalk_seconds", "call"], name="analysis_overtalk_call"),
            models.Index(
                fields=["longest_monologue_seconds", "call"], name="analysis_monologue_call"
            ),
            models.Index(
                models.F("agent_interruptions") + models.F("caller_interruptions"),
                "call",
                name="analysis_interruptions_call",
            ),
        ]

    def __str__(self) -> str:
        return f"analysis of {self.call}"
