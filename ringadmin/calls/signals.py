"""What the call lifecycle announces, so the apps built on it can react without the core
knowing them."""

from __future__ import annotations

from django.dispatch import Signal

# Sent by ``call_finalize`` inside its transaction, with ``call`` (the closed ``Call``). A
# receiver's writes and ``on_commit`` callbacks belong to that transaction: they happen only if
# the call is closed. An exception in a receiver aborts the finalization.
call_finalized = Signal()
