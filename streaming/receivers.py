"""What the streaming app does when the core announces a call event (connected in
``StreamingConfig.ready``)."""

from __future__ import annotations

from typing import Any

from ringadmin.calls.models import Call
from streaming.tasks import call_postprocess
from streaming.transcription.post_call import transcription_after_call


def post_call_work_queue(sender: type[Call], *, call: Call, **kwargs: Any) -> None:
    """``call_finalized``: fingerprint the recording and transcribe the call, both queued once
    the finalizing transaction commits (and never if it rolls back)."""
    call_postprocess.delay_on_commit(call.pk)
    transcription_after_call(call)
