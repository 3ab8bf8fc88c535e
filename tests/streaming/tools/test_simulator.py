"""The RingCX simulator: its codec and audio, and what it sends, checked by a real server.

Most tests drive the bare-websockets reference server in a subprocess and compare what it
counted and wrote with what the simulator says it sent, so a simulator that lied about its
faults (or sent the wrong channel) would fail here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
import wave
from collections import Counter
from dataclasses import dataclass
from http import HTTPStatus
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from websockets.asyncio.server import serve

from streaming.tools.bench.processes import start_process, stop_process, wait_for_port
from streaming.tools.bench.reference_server import track_path
from streaming.tools.simulator import (
    CONFERENCE,
    FRAME_SAMPLES,
    FRAME_SECONDS,
    MALFORMED_KINDS,
    MULAW_DECODE_TABLE,
    PARTICIPANT,
    PERSPECTIVES,
    AudioError,
    LagHistogram,
    SimulationConfig,
    SimulationReport,
    StereoAudio,
    load_wav,
    mulaw_decode,
    mulaw_encode,
    simulate,
    tone_audio,
)
from tests.conftest import free_port
from tests.helpers import PROJECT_DIR, project_env

SECRET = "bench-secret-value"


# --- G.711 -----------------------------------------------------------------------------------


def _reference_linear2ulaw(sample: int) -> int:
    """The classic C codec (Sun g711.c ``linear2ulaw``), transliterated one sample at a time."""
    segment_ends = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)
    value = sample >> 2
    if value < 0:
        value, mask = -value, 0x7F
    else:
        mask = 0xFF
    value = min(value, 8159) + 0x21
    segment = next((i for i, end in enumerate(segment_ends) if value <= end), 8)
    if segment >= 8:
        return 0x7F ^ mask
    return ((segment << 4) | ((value >> (segment + 1)) & 0x0F)) ^ mask


ALL_SAMPLES = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16)


def test_mulaw_encoder_matches_the_reference_codec_for_every_sample():
    expected = bytes(_reference_linear2ulaw(int(s)) for s in ALL_SAMPLES)
    assert mulaw_encode(ALL_SAMPLES) == expected


def test_mulaw_encoder_matches_audioop_where_python_still_has_it():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")
    assert mulaw_encode(ALL_SAMPLES) == audioop.lin2ulaw(ALL_SAMPLES.tobytes(), 2)


def test_mulaw_round_trip_through_the_decode_table():
    codes = np.arange(256, dtype=np.uint8)
    re_encoded = np.frombuffer(mulaw_encode(MULAW_DECODE_TABLE[codes]), np.uint8)
    # Every code survives decode → encode, except "negative zero" (0x7F), which is 0 → 0xFF.
    expected = codes.copy()
    expected[0x7F] = 0xFF
    assert np.array_equal(re_encoded, expected)
    assert (MULAW_DECODE_TABLE[0xFF], MULAW_DECODE_TABLE[0x00], MULAW_DECODE_TABLE[0x80]) == (
        0,
        -32124,
        32124,
    )
    decoded = mulaw_decode(mulaw_encode(ALL_SAMPLES)).astype(np.int32)
    error = np.abs(decoded - ALL_SAMPLES.astype(np.int32))
    assert np.all(np.diff(decoded) >= 0)  # monotonic
    assert np.all(error <= np.maximum(16, np.abs(ALL_SAMPLES.astype(np.int32)) // 16))


def test_mulaw_encoder_clips_wider_inputs_instead_of_wrapping():
    assert mulaw_encode(np.array([70000, -70000])) == mulaw_encode(
        np.array([32767, -32768], np.int16)
    )


# --- Audio -----------------------------------------------------------------------------------


def _dominant_hz(samples: np.ndarray, rate: int = 8000) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


def _loud_frames(samples: np.ndarray) -> np.ndarray:
    frames = samples[: len(samples) // FRAME_SAMPLES * FRAME_SAMPLES].astype(np.float64)
    rms = np.sqrt(np.mean(frames.reshape(-1, FRAME_SAMPLES) ** 2, axis=1))
    return rms > 1000


def test_tone_is_a_conversation_agent_left_caller_right():
    audio = tone_audio(12.0, seed=1)
    assert len(audio.left) == len(audio.right) == 12 * 8000
    assert abs(_dominant_hz(audio.left) - 440) < 2
    assert abs(_dominant_hz(audio.right) - 660) < 2
    left, right = _loud_frames(audio.left), _loud_frames(audio.right)
    assert left.mean() > 0.2
    assert right.mean() > 0.2
    assert (left & right).mean() < 0.02  # they take turns


def _write_wav(path: Path, channels: list[np.ndarray], rate: int) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(len(channels))
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.stack(channels, axis=1).astype("<i2").tobytes())


def _sine(hz: float, seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (8000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def test_stereo_pcm16_wav_is_resampled_and_keeps_its_channels(tmp_path):
    path = tmp_path / "stereo.wav"
    _write_wav(path, [_sine(500, 2.0, 44100), _sine(1500, 2.0, 44100)], 44100)
    audio = load_wav(path)
    assert abs(len(audio.left) - 16000) <= 1
    assert abs(_dominant_hz(audio.left) - 500) < 3
    assert abs(_dominant_hz(audio.right) - 1500) < 3
    assert abs(audio.duration - 2.0) < 0.001


def test_mono_wav_goes_to_both_channels(tmp_path):
    path = tmp_path / "mono.wav"
    _write_wav(path, [_sine(700, 1.0, 16000)], 16000)
    audio = load_wav(path)
    assert np.array_equal(audio.left, audio.right)
    assert abs(_dominant_hz(audio.left) - 700) < 3


def test_mulaw_wav_is_decoded_exactly(tmp_path):
    codes = np.random.default_rng(5).integers(0, 256, size=(800, 2), dtype=np.uint8)
    data = codes.tobytes()
    fmt = (7).to_bytes(2, "little") + (2).to_bytes(2, "little") + (8000).to_bytes(4, "little")
    fmt += (16000).to_bytes(4, "little") + (2).to_bytes(2, "little") + (8).to_bytes(2, "little")
    body = b"WAVE" + b"fmt " + len(fmt).to_bytes(4, "little") + fmt
    body += b"data" + len(data).to_bytes(4, "little") + data
    path = tmp_path / "ulaw.wav"
    path.write_bytes(b"RIFF" + len(body).to_bytes(4, "little") + body)
    audio = load_wav(path)
    assert np.array_equal(audio.left, MULAW_DECODE_TABLE[codes[:, 0]])
    assert np.array_equal(audio.right, MULAW_DECODE_TABLE[codes[:, 1]])


def test_not_a_wav_is_refused_with_a_reason(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("hello")
    with pytest.raises(AudioError, match="RIFF"):
        load_wav(path)


def test_lag_histogram_merges_and_takes_nearest_rank_percentiles():
    lag = LagHistogram()
    for ms in [-0.5, 0.2, 1.7, 1.9] + [10.4] * 96:
        lag.add(ms)
    assert lag.counts == {0: 2, 2: 2, 10: 96}
    assert lag.percentile(0.02) == 0.0
    assert lag.percentile(0.03) == 2.0
    assert lag.percentile(0.99) == 10.0
    assert lag.at_least(2) == 98
    merged = LagHistogram(lag.to_dict()["histogram"])
    merged.merge({"60": 10})
    assert merged.count == 110
    assert merged.percentile(0.99) == 60.0


# --- Against a real server -------------------------------------------------------------------


@dataclass
class Reference:
    url: str
    process: subprocess.Popen
    out_dir: Path
    stats_file: Path

    def stats(self) -> dict:
        """Stop the server (it drains every socket first) and read what it counted."""
        assert stop_process(self.process, timeout=30) == 0
        return json.loads(self.stats_file.read_text())

    def track(self, call_id: str, perspective: str) -> np.ndarray:
        return np.frombuffer(track_path(self.out_dir, call_id, perspective).read_bytes(), "<i2")


@pytest.fixture
def reference(tmp_path):
    started: list[subprocess.Popen] = []

    def start(*, secret: str | None = None) -> Reference:
        port = free_port()
        out_dir, stats_file = tmp_path / f"tracks-{port}", tmp_path / f"stats-{port}.json"
        argv = [sys.executable, "-m", "streaming.tools.bench.reference_server", "--port", str(port)]
        argv += ["--out", str(out_dir), "--stats-file", str(stats_file)]
        if secret:
            argv += ["--secret", secret]
        process = start_process(
            argv, env=project_env(), cwd=PROJECT_DIR, log_path=tmp_path / f"ref-{port}.log"
        )
        started.append(process)
        wait_for_port("127.0.0.1", port, timeout=30, process=process)
        return Reference(f"ws://127.0.0.1:{port}/", process, out_dir, stats_file)

    yield start
    for process in started:
        stop_process(process, timeout=10)


def _config(url: str, **overrides) -> SimulationConfig:
    values = {"url": url, "calls": 1, "duration": 1.0, "realtime": False, "seed": 11}
    values |= {"call_id_prefix": "t", "keep_sent_frames": True}
    return SimulationConfig(**(values | overrides))


def _originals(report: SimulationReport, call: int, perspective: str) -> list:
    return [
        f
        for f in report.calls[call].sent_frames
        if f.perspective == perspective and not f.duplicate
    ]


async def test_every_frame_sent_arrives_on_the_right_channel(reference):
    server = reference()
    audio = StereoAudio(left=_sine(440, 1.0, 8000), right=_sine(1000, 1.0, 8000) // 2)
    report = await simulate(_config(server.url, calls=3, audio=audio, duration=None))
    stats = server.stats()

    assert report.ok
    assert report.frames_per_perspective == 50
    for call in report.calls:
        counted = stats["calls"][call.call_id]
        for name in PERSPECTIVES:
            assert call.perspectives[name].frames_sent == 50
            assert counted["perspectives"][name]["frames_received"] == 50
            assert counted["perspectives"][name]["duplicates"] == 0
        assert counted["connections"][0]["stops"] == 2
        assert counted["connections"][0]["close_code"] == 1000
        # What the server wrote is the agent on Participant and the caller on Conference.
        expected_left = mulaw_decode(mulaw_encode(audio.left))
        expected_right = mulaw_decode(mulaw_encode(audio.right))
        assert np.array_equal(server.track(call.call_id, PARTICIPANT), expected_left)
        assert np.array_equal(server.track(call.call_id, CONFERENCE), expected_right)
    first = stats["calls"]["t-1"]
    assert first["connections"][0]["query"] == {
        "callId": "t-1",
        "sessionId": "1",
        "ani": "5557000000",
        "dnis": "8005550100",
        "accountId": "99990000",
        "subaccountId": "99990001",
        "rcAccountId": "123456789",
        "agentId": "1000",
        "productType": "Queue",
        "productId": "1234",
    }
    assert first["metadata"]["contentType"] == "audio/x-mulaw"
    assert first["metadata"]["sampleRateHertz"] == 8000
    assert first["metadata"]["productId"] == 1234
    assert stats["calls"]["t-3"]["metadata"]["callId"] == "t-3"


async def test_drops_and_duplicates_are_what_the_report_says(reference):
    server = reference()
    report = await simulate(
        _config(server.url, calls=2, duration=2.0, drop_pct=10, duplicate_pct=10)
    )
    stats = server.stats()

    for call in report.calls:
        for name in PERSPECTIVES:
            sent = call.perspectives[name]
            counted = stats["calls"][call.call_id]["perspectives"][name]
            assert sent.frames_dropped > 0
            assert sent.duplicates_sent > 0
            assert sent.frames_sent == 100 - sent.frames_dropped
            assert counted["frames_received"] == sent.frames_sent
            assert counted["duplicates"] == sent.duplicates_sent
            sequence_ids = Counter(f.sequence_id for f in call.sent_frames if f.perspective == name)
            assert len(sequence_ids) == sent.frames_sent
            assert sum(sequence_ids.values()) - len(sequence_ids) == sent.duplicates_sent


async def test_reordering_holds_frames_back_behind_later_ones_within_the_depth(reference):
    server = reference()
    report = await simulate(
        _config(server.url, duration=4.0, realtime=True, reorder_pct=8, reorder_depth=3)
    )
    stats = server.stats()

    for name in PERSPECTIVES:
        frames = _originals(report, 0, name)
        order = [f.sequence_id for f in frames]
        assert sorted(order) == list(range(1, 201))
        overtaken = []
        for position, seq in enumerate(order):
            overtakers = [s for s in order[:position] if s > seq]
            if overtakers:
                overtaken.append(seq)
                assert max(overtakers) - seq <= 3  # within the depth
        assert len(overtaken) == report.calls[0].perspectives[name].frames_reordered > 0
        # The server saw exactly these out-of-order arrivals.
        assert stats["calls"]["t-1"]["perspectives"][name]["out_of_order"] == len(overtaken)
        # Held back, never sent ahead of its own time.
        for frame in frames:
            assert frame.offset >= (frame.sequence_id - 1) * FRAME_SECONDS - 0.001


async def test_per_socket_numbering_counts_every_media_message_on_the_socket(reference):
    server = reference()
    report = await simulate(_config(server.url, numbering="per-socket"))
    stats = server.stats()

    participant = [f.sequence_id for f in _originals(report, 0, PARTICIPANT)]
    conference = [f.sequence_id for f in _originals(report, 0, CONFERENCE)]
    assert sorted(participant + conference) == list(range(1, 101))
    assert all(seq % 2 == 1 for seq in participant)  # interleaved on one socket
    sent_order = [f.sequence_id for f in report.calls[0].sent_frames]
    assert sent_order == list(range(1, 101))
    counted = stats["calls"]["t-1"]["perspectives"]
    assert counted[PARTICIPANT]["max_sequence"] == 99
    assert counted[CONFERENCE]["max_sequence"] == 100


async def test_split_perspectives_use_one_socket_each_for_the_same_call(reference):
    server = reference()
    report = await simulate(_config(server.url, calls=2, split_perspectives=True))
    stats = server.stats()

    assert report.ok
    for call in report.calls:
        assert [c.perspectives for c in call.connections] == [[PARTICIPANT], [CONFERENCE]]
        sockets = stats["calls"][call.call_id]["connections"]
        assert sorted(list(s["perspectives"]) for s in sockets) == [[CONFERENCE], [PARTICIPANT]]
        assert [s["stops"] for s in sockets] == [1, 1]
        assert {s["query"]["sessionId"] for s in sockets} == {"1"}
        for name in PERSPECTIVES:
            received = stats["calls"][call.call_id]["perspectives"][name]["frames_received"]
            assert received == 50


async def test_reconnect_drops_the_socket_without_stop_and_continues_the_numbering(reference):
    server = reference()
    report = await simulate(_config(server.url, duration=2.0, reconnect_at=1.0))
    stats = server.stats()

    call = report.calls[0]
    assert [c.attempt for c in call.connections] == [0, 1]
    assert call.connections[0].closed_by == "client-drop"
    assert call.completed
    first, second = stats["calls"]["t-1"]["connections"]
    assert first["close_code"] == 1006  # no close frame: a dropped socket
    assert (first["starts"], first["stops"]) == (1, 0)
    assert (second["starts"], second["stops"]) == (1, 2)
    for name in PERSPECTIVES:
        assert first["perspectives"][name] == {"first": 1, "last": 50}
        assert second["perspectives"][name] == {"first": 51, "last": 100}
        assert stats["calls"]["t-1"]["perspectives"][name]["frames_received"] == 100


async def test_malformed_frames_are_counted_by_kind_and_spoil_nothing(reference):
    server = reference()
    audio = tone_audio(3.0, seed=2)
    report = await simulate(_config(server.url, duration=3.0, audio=audio, malformed_pct=8))
    stats = server.stats()

    sent = report.calls[0].malformed_sent
    assert sum(sent.values()) > 0
    assert set(sent) <= set(MALFORMED_KINDS)
    assert stats["calls"]["t-1"]["malformed"] == sent
    for name in PERSPECTIVES:
        assert stats["calls"]["t-1"]["perspectives"][name]["frames_received"] == 150
    written = server.track("t-1", PARTICIPANT)
    assert np.array_equal(written, mulaw_decode(mulaw_encode(audio.left)))


async def test_late_conference_start_sends_the_caller_later(reference):
    server = reference()
    report = await simulate(_config(server.url, late_start_ms=200))
    server.stats()

    order = [f.perspective for f in report.calls[0].sent_frames]
    assert order[:10] == [PARTICIPANT] * 10
    assert order.count(CONFERENCE) == 50


async def test_real_time_pacing_never_sends_early_and_late_frames_are_over_a_second_late(
    reference,
):
    server = reference()
    report = await simulate(_config(server.url, duration=2.5, realtime=True, late_pct=6))
    stats = server.stats()

    call = report.calls[0]
    assert report.elapsed >= 2.5
    late = [f for f in call.sent_frames if f.late]
    assert len(late) == sum(call.perspectives[p].frames_late for p in PERSPECTIVES) > 0
    for frame in call.sent_frames:
        slot = (frame.sequence_id - 1) * FRAME_SECONDS
        assert frame.offset >= slot - 0.001  # never ahead of the schedule
        assert report.started_at <= frame.sent_at <= report.started_at + report.elapsed
        if frame.late:
            assert frame.offset - slot > 1.0
    assert report.send_lag.count == sum(
        call.perspectives[p].frames_sent + call.perspectives[p].duplicates_sent
        for p in PERSPECTIVES
    )
    for name in PERSPECTIVES:
        assert stats["calls"]["t-1"]["perspectives"][name]["frames_received"] == 125
    assert stats["lag_ms"]["count"] == 250  # every frame carried sentAt


@pytest.mark.parametrize("place", ["header", "query", "start", "connected"])
async def test_the_secret_goes_where_asked(reference, place):
    server = reference(secret=SECRET)
    report = await simulate(_config(server.url, secret=SECRET, secret_in=place))
    stats = server.stats()

    assert report.ok
    assert stats["calls"]["t-1"]["connections"][0]["presented_in"] == place
    assert "secret" not in stats["calls"]["t-1"]["connections"][0]["query"]


async def test_a_refused_handshake_is_reported_with_its_status_not_raised(reference):
    server = reference(secret=SECRET)
    report = await simulate(_config(server.url, calls=2, secret="wrong"))
    stats = server.stats()

    assert not report.ok
    for call in report.calls:
        (connection,) = call.connections
        assert (connection.outcome, connection.status_code) == ("rejected", 403)
        for name in PERSPECTIVES:
            assert call.perspectives[name].frames_sent == 0
            assert call.perspectives[name].frames_unsent == 50
    assert report.totals()["connections"]["rejected"] == {"403": 2}
    assert stats["rejected"] == 2
    assert stats["calls"] == {}


async def test_a_server_closing_after_start_is_reported_with_its_code(reference):
    server = reference(secret=SECRET)
    # In real time, so the server's close comes long before the simulator would finish.
    config = _config(server.url, secret="wrong", secret_in="start", realtime=True)
    report = await simulate(config)
    server.stats()

    (connection,) = report.calls[0].connections
    assert connection.outcome == "accepted"
    assert (connection.closed_by, connection.close_code) == ("server", 4403)
    assert connection.close_reason == "bad secret"
    assert not report.calls[0].completed
    assert report.calls[0].perspectives[PARTICIPANT].frames_unsent > 40


@pytest.mark.parametrize("status", [HTTPStatus.FORBIDDEN, HTTPStatus.SERVICE_UNAVAILABLE])
async def test_process_request_refusals_are_reported(status):
    async def never_called(connection) -> None:
        raise AssertionError("the handshake should have been refused")

    def refuse(connection, request):
        return connection.respond(status, "no\n")

    async with serve(never_called, "127.0.0.1", 0, process_request=refuse) as server:
        port = server.sockets[0].getsockname()[1]
        report = await simulate(_config(f"ws://127.0.0.1:{port}/", calls=2))

    assert [c.connections[0].status_code for c in report.calls] == [status, status]
    assert [c.connections[0].outcome for c in report.calls] == ["rejected", "rejected"]
    assert report.totals()["connections"]["rejected"] == {str(int(status)): 2}


async def test_a_server_that_stops_reading_cannot_hang_the_simulator():
    async def never_reads(connection) -> None:
        await connection.wait_closed()

    one_second = StereoAudio(left=_sine(440, 1.0, 8000), right=_sine(660, 1.0, 8000))
    async with serve(never_reads, "127.0.0.1", 0, max_queue=1, close_timeout=0.5) as server:
        port = server.sockets[0].getsockname()[1]
        url = f"ws://127.0.0.1:{port}/"
        report = await simulate(_config(url, duration=600, audio=one_second, deadline=2))

    assert report.timed_out
    assert not report.ok
    (connection,) = report.calls[0].connections
    assert (connection.outcome, connection.closed_by) == ("accepted", "deadline")
    unsent = report.calls[0].perspectives[PARTICIPANT].frames_unsent
    assert 0 < unsent < 30_000


async def test_nothing_listening_is_a_failed_connection():
    report = await simulate(_config(f"ws://127.0.0.1:{free_port()}/", connect_timeout=5))

    (connection,) = report.calls[0].connections
    assert connection.outcome == "failed"
    assert "Connect" in connection.error or "refused" in connection.error.lower()
    assert report.calls[0].perspectives[PARTICIPANT].frames_unsent == 50


def test_invalid_configuration_is_refused_before_connecting():
    with pytest.raises(ValueError, match="secret_in"):
        SimulationConfig(secret_in="pigeon").validate()
    with pytest.raises(ValueError, match="drop_pct"):
        SimulationConfig(drop_pct=120).validate()


def test_command_line_prints_a_json_report(reference):
    server = reference()
    options = ["--calls", "2", "--duration", "0.5", "--no-realtime", "--json"]
    process = subprocess.run(
        [sys.executable, "-m", "streaming.tools.simulator", "--url", server.url, *options],
        cwd=PROJECT_DIR,
        env=project_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    stats = server.stats()

    assert process.returncode == 0, process.stderr
    report = json.loads(process.stdout)
    assert report["ok"] is True
    assert report["totals"]["perspectives"][PARTICIPANT]["frames_sent"] == 50
    assert stats["totals"]["frames_received"] == 100


def test_management_command_runs_the_simulator_and_fails_when_refused(reference):
    server = reference(secret=SECRET)
    out = StringIO()
    call_command(
        "ringcx_simulate",
        "--url",
        server.url,
        "--duration",
        "0.4",
        "--no-realtime",
        "--secret",
        SECRET,
        "--quiet",
        stdout=out,
    )
    assert "1 accepted" in out.getvalue()
    with pytest.raises(CommandError, match="not every call completed"):
        call_command(
            "ringcx_simulate",
            "--url",
            server.url,
            "--duration",
            "0.4",
            "--no-realtime",
            "--secret",
            "wrong",
            "--quiet",
            stdout=StringIO(),
        )
    assert server.stats()["rejected"] == 1
