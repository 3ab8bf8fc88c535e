"""Load shedding: when a new socket is told to retry later (503) instead of being served.

Two signals: the number of open sockets, and how far the event loop runs behind (measured by
the ticker, whose sleeps wake late when the loop is busy).
"""

from __future__ import annotations


class LoadShedding:
    """The overload signal of one event loop, and how many handshakes it turned away."""

    def __init__(self, *, max_connections: int, shed_lag_ms: float) -> None:
        self.max_connections = max_connections
        self.shed_lag_ms = shed_lag_ms  # 0: never shed for lag
        self.loop_lag_ms = 0.0
        self.shed_count = 0

    def observe_lag(self, lag_ms: float) -> None:
        """One measurement of the loop's lateness: a rise counts at once, a fall gradually, so
        one quiet tick does not reopen the door during a burst."""
        self.loop_lag_ms = (
            lag_ms if lag_ms > self.loop_lag_ms else (0.7 * self.loop_lag_ms + 0.3 * lag_ms)
        )

    def overloaded(self, open_sockets: int) -> str | None:
        """Why a new call should be told to retry later (503), or None."""
        if open_sockets >= self.max_connections:
            return f"{open_sockets} ingest sockets open (limit {self.max_connections})"
        if self.shed_lag_ms and self.loop_lag_ms > self.shed_lag_ms:
            return f"event loop {self.loop_lag_ms:.0f} ms behind"
        return None
