"""The ingest benchmark: a bare-websockets reference server, process control and the search."""
