"""The RingCX ingest socket's ASGI application."""

from streaming.consumers import IngestConsumer

ingest_application = IngestConsumer.as_asgi()
