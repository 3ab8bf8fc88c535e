"""The RingCX ingest socket's ASGI application (mounted at ``/`` by ``ringadmin.asgi``)."""

from streaming.ingest.app import ingest_application

__all__ = ["ingest_application"]
