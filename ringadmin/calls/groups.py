"""Names of channel-layer groups, in one place so producers and consumers agree."""


def call_group_name(call_pk: int) -> str:
    """The group that receives a call's live events (started, progress, transcript, stopped)."""
    return f"call.{int(call_pk)}"


# Every ingest process's digest of its live calls, and calls starting and stopping: the live
# calls page's one group (each viewer's socket filters it to the calls its user may see).
LIVE_CALLS_GROUP = "calls.live"
