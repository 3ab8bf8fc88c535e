"""The transport-agnostic audio pipeline: parse → reorder per leg → place by position → write.

Pure Python (and numpy): no Django, no Channels, so it is unit-tested with byte fixtures and
can be fed by the WebSocket ingest today and a gRPC receiver later.
"""
