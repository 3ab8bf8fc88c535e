"""Where Celery discovers the streaming app's tasks (``app.autodiscover_tasks()`` imports
``<app>.tasks``): the recordings' tasks are here; the profiles' and transcription's live with
them and are imported here so every worker registers them. Task names never change: queued
messages and the beat schedule refer to them.
"""

from __future__ import annotations

from celery import shared_task

from streaming.call_analysis import call_analyse
from streaming.profiles.tasks import (
    streaming_profile_push_task,
    streaming_profile_remote_delete_task,
    streaming_profiles_verify_task,
)
from streaming.recordings import recording_fingerprint
from streaming.recovery import recordings_recover
from streaming.retention import retention_purge
from streaming.transcription.tasks import transcribe_call

__all__ = [
    "call_analyse_task",
    "call_postprocess",
    "recover_interrupted_recordings",
    "retention_purge_task",
    "streaming_profile_push_task",
    "streaming_profile_remote_delete_task",
    "streaming_profiles_verify_task",
    "transcribe_call",
]


@shared_task(
    name="streaming.call_postprocess",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def call_postprocess(call_id: int) -> None:
    """Fingerprint the finished recording (safe to run twice: it recomputes the same), then
    queue its analysis (its own task: a failure there never undoes the fingerprint)."""
    recording_fingerprint(call_id=call_id)
    call_analyse_task.delay(call_id)


@shared_task(name="streaming.call_analyse", acks_late=True, ignore_result=True)
def call_analyse_task(call_id: int) -> None:
    """Talk time, silence, overtalk, interruptions and the waveform, stored once per call."""
    call_analyse(call_id=call_id)


@shared_task(name="streaming.recover_interrupted_recordings", ignore_result=True)
def recover_interrupted_recordings() -> None:
    """Periodic: calls left live by an ingest process that died (on any host)."""
    recordings_recover()


@shared_task(name="streaming.retention_purge", ignore_result=True)
def retention_purge_task() -> None:
    """Periodic: one batch of calls past their retention (never those under legal hold)."""
    retention_purge()
