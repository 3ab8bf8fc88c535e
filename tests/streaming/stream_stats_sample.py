"""A ``Call.stream_stats`` as the ingest writes it, shared by the admin and command tests."""

from __future__ import annotations

from typing import Any


def stream_stats() -> dict[str, Any]:
    perspective = {
        "frames_received": 6000,
        "duplicates": 2,
        "reordered": 5,
        "gaps_filled_frames": 3,
        "gaps_filled_ms": 60,
        "late_dropped": 1,
        "bytes": 960000,
        "first_sequence": 1,
        "last_sequence": 6003,
        "offset_frames": 0,
        "samples_written": 960480,
        "stopped": True,
    }
    return {
        "numbering": "per_perspective",
        "sockets": 1,
        "errors": {"bad_base64": 1},
        "perspectives": {
            "Participant": {"channel": "left", **perspective},
            "Conference": {"channel": "right", **perspective, "frames_received": 5998},
        },
        "recording": {
            "format": "wav",
            "channels": 2,
            "sample_rate": 8000,
            "seconds": 120.06,
            "bytes": 3842044,
        },
        "taps": {"dropped": 4},
        "lag_ms": {"p50": 20, "p99": 180},
    }
