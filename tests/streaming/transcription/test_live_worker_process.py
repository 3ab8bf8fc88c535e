"""The live worker as ``manage.py serve`` starts it: its lines in the application's format,
one per event, and a stop (Ctrl-C, SIGTERM) with an ingest connected that logs no traceback."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys

import pytest

from streaming.tools.bench.processes import stop_process, wait_for_port
from streaming.transcription import live_protocol as wire
from tests.conftest import free_port
from tests.helpers import PROJECT_DIR, project_env


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_one_line_per_event_and_a_quiet_stop_with_an_ingest_connected(
    tmp_path, log_format: str
) -> None:
    port = free_port()
    key = secrets.token_urlsafe(32)
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streaming.transcription.live_worker",
                "--listen",
                f"tcp://127.0.0.1:{port}",
                "--log-format",
                log_format,
                "--log-level",
                "INFO",
            ],
            cwd=PROJECT_DIR,
            env=project_env(LOG_FORMAT=None, DEBUG=None, LIVE_TRANSCRIPTION_KEY=key),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_port("127.0.0.1", port, timeout=120, process=process)

        async def stop_while_connected() -> int:
            endpoint = wire.endpoint_parse(f"tcp://127.0.0.1:{port}")
            reader, writer = await wire.connect(endpoint)
            await wire.ingest_handshake(reader, writer, wire.key_check(key))
            writer.write(wire.encode_json(wire.OPEN, {"stream": 1, "speaker": "agent"}))
            await writer.drain()
            # The worker answers nothing to an open stream; it is stopped while connected.
            code = await asyncio.to_thread(stop_process, process, timeout=30)
            writer.close()
            return code

        assert asyncio.run(stop_while_connected()) == 0
    finally:
        stop_process(process)
    lines = log_path.read_text().splitlines()
    assert "Traceback" not in "\n".join(lines)
    listening = [line for line in lines if "live transcription worker listening on" in line]
    assert len(listening) == 1, lines
    if log_format == "json":
        record = json.loads(listening[0])
        assert record["name"] == "streaming.transcription.live"
        assert record["level"] == "INFO"
    else:
        assert " INFO    streaming.transcription.live [req=- call=-] " in listening[0]
