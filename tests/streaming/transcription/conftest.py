"""A real live transcription worker on loopback, for the live tests."""

from __future__ import annotations

import pytest

from streaming.tools.bench.live_transcription import live_worker_start, live_worker_stop
from tests.helpers import PROJECT_DIR

FIXTURES = PROJECT_DIR / "tests" / "fixtures" / "speech"


@pytest.fixture
def live_worker(tmp_path):
    """A worker subprocess: its port and key."""
    log_path = tmp_path / "live-worker.log"
    with open(log_path, "ab") as log:  # the child keeps its own copy of the descriptor
        try:
            worker = live_worker_start(partials=True, stdout=log)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}: {log_path.read_text()[-2000:]}") from exc
    yield worker
    live_worker_stop(worker.process)
