"""The ingest's database calls run on a pool of threads of their own.

Channels' ``database_sync_to_async`` defaults to Django's single thread-sensitive thread, so
every call's Start would wait for every other call's database work: when many calls begin
together, their first frames queue for hundreds of milliseconds. The ingest's services each
run in their own transaction and share no thread-bound state, so they may run side by side.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

from channels.db import DatabaseSyncToAsync
from django.conf import settings


@cache
def _executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(
        max_workers=settings.INGEST_DB_THREADS, thread_name_prefix="ingest-db"
    )


def in_db_thread(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` as an awaitable, run on the ingest's database threads (connections closed
    when stale, as Channels does)."""
    return DatabaseSyncToAsync(func, thread_sensitive=False, executor=_executor())
