"""The live path end to end: the RingCX simulator streams a two-party call to a real daphne;
the ingest feeds a real live transcription worker; a signed-in supervisor's WebSocket on the
call's events receives partial then final lines for the right speaker, and the finals are
stored for late viewers."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time

import httpx
import psycopg
import pytest
import websockets

from streaming.tools.bench.speechset import word_error_rate
from streaming.tools.simulator import SimulationConfig, load_wav, simulate
from tests.helpers import manage
from tests.streaming.ingest_server import IngestServer, ingest_server_env
from tests.streaming.transcription.conftest import FIXTURES

pytestmark = pytest.mark.integration

PASSWORD = "Supervisor-pw-123456"


def session_cookie(base: str) -> str:
    with httpx.Client(base_url=base) as client:
        client.get("/login/")
        token = client.cookies["csrftoken"]
        response = client.post(
            "/login/",
            data={"username": "sup", "password": PASSWORD, "csrfmiddlewaretoken": token},
            headers={"Referer": f"{base}/login/"},
        )
        assert response.status_code == 302, response.text[:500]
        return client.cookies["sessionid"]


def test_live_lines_reach_a_supervisor_then_stay_stored(tmp_path, live_worker) -> None:
    expected = json.loads((FIXTURES / "live_dialogue_8k.json").read_text())
    audio = load_wav(FIXTURES / "live_dialogue_8k.wav")
    server = IngestServer(
        var_dir=tmp_path,
        env=ingest_server_env(
            tmp_path,
            LIVE_TRANSCRIPTION="true",
            LIVE_TRANSCRIPTION_WORKERS=f"tcp://127.0.0.1:{live_worker.port}",
            LIVE_TRANSCRIPTION_KEY=live_worker.key,
        ),
    ).setup()
    created = manage(
        "create_user",
        "--role",
        "supervisor",
        "--username",
        "sup",
        "--password-from-env",
        env={**server.env, "RINGADMIN_USER_PASSWORD": PASSWORD},
    )
    assert created.returncode == 0, created.stderr
    server.start()
    base = f"http://127.0.0.1:{server.port}"
    cookie = session_cookie(base)

    async def scenario() -> tuple[list[dict], object]:
        config = SimulationConfig(
            url=server.url, calls=1, duration=audio.duration, audio=audio, secret=server.secret
        )
        streaming = asyncio.create_task(simulate(config))
        pk = None
        deadline = time.monotonic() + 20
        while pk is None:
            assert time.monotonic() < deadline, "the call row never appeared"
            pk = await asyncio.to_thread(_find_call, server)
            if pk is None:
                await asyncio.sleep(0.05)  # polling the database for the row
        lines: list[dict] = []
        async with websockets.connect(
            f"ws://127.0.0.1:{server.port}/ws/calls/{pk}/events/",
            additional_headers={"Cookie": f"sessionid={cookie}", "Origin": base},
        ) as ws:
            heard_until = {"agent": 0.0, "caller": 0.0}  # end of each speaker's last final
            end = time.monotonic() + audio.duration + 40
            while any(heard_until[s] < expected[s]["end"] - 1.0 for s in heard_until):
                remaining = end - time.monotonic()
                assert remaining > 0, f"finals missing ({heard_until}): {lines}"
                message = json.loads(await asyncio.wait_for(ws.recv(), remaining))
                if message.get("type") == "transcript":
                    lines.append(message)
                    if message["is_final"]:
                        heard_until[message["speaker"]] = message["end"]
        report = await streaming
        # Finals are stored in batches (every ingest tick): all of them, in time order.
        finals = [line["speaker"] for line in lines if line["is_final"]]
        deadline = time.monotonic() + 15
        while (stored := await asyncio.to_thread(_stored_speakers, server, pk)) != finals:
            assert time.monotonic() < deadline, f"stored {stored}, received {finals}"
            await asyncio.sleep(0.1)  # polling the database for the batch
        return lines, report

    try:
        lines, report = asyncio.run(scenario())
    finally:
        server.stop()
    assert all(c.outcome == "accepted" for call in report.calls for c in call.connections)
    for speaker in ("agent", "caller"):
        own = [line for line in lines if line["speaker"] == speaker]
        finals = [line for line in own if line["is_final"]]
        # a partial of an utterance comes before that utterance's final
        partial = next(line for line in own if not line["is_final"])
        final_of_partial = next(f for f in finals if f["seq"] == partial["seq"])
        assert lines.index(partial) < lines.index(final_of_partial)
        heard = " ".join(f["text"] for f in finals)
        assert word_error_rate(expected[speaker]["text"], heard) <= 0.35, finals
        assert finals[0]["start"] == pytest.approx(expected[speaker]["start"], abs=0.5)
        assert finals[-1]["end"] == pytest.approx(expected[speaker]["end"], abs=0.8)
    server.drop_database()


def _rows(server: IngestServer, query: str, params: tuple = ()) -> list[tuple]:
    """Read the server's database directly (no Django here: it runs in the test's process)."""
    url = server.env["DATABASE_URL"]
    if url.startswith("sqlite"):
        try:
            with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
                return db.execute(query.replace("%s", "?"), params).fetchall()
        except sqlite3.OperationalError:  # not migrated yet, or busy
            return []
    with psycopg.connect(url) as db:
        return db.execute(query, params).fetchall()


def _find_call(server: IngestServer) -> int | None:
    rows = _rows(server, "SELECT id FROM calls_call ORDER BY id DESC LIMIT 1")
    return rows[0][0] if rows else None


def _stored_speakers(server: IngestServer, call_id: int) -> list[str]:
    rows = _rows(
        server,
        "SELECT s.speaker FROM streaming_transcriptsegment s JOIN streaming_transcript t "
        "ON s.transcript_id = t.id WHERE t.call_id = %s AND t.kind = 'live' ORDER BY s.start",
        (call_id,),
    )
    return [row[0] for row in rows]
