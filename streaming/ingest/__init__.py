"""The RingCX ingest socket: handshake, per-socket protocol handling, live calls."""
