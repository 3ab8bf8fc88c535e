"""Names of channel-layer groups, in one place so producers and consumers agree."""


def call_group_name(call_pk: int) -> str:
    """The group that receives a call's live events (started, progress, transcript, stopped)."""
    return f"call.{int(call_pk)}"
