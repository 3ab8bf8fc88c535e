"""The benchmark's judgement and search, and its process hygiene (not its timings)."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from ringadmin.calls.models import CallStatus
from streaming.models import StreamingProfile
from streaming.tools.bench import ingest_db
from streaming.tools.bench.processes import (
    process_tree,
    rss_bytes,
    start_process,
    stop_process,
    wait_for_port,
)
from streaming.tools.bench.report import bench_report, format_table
from streaming.tools.bench.rounds import (
    BenchSettings,
    RoundResult,
    ServerSummary,
    combine_repeats,
    evaluate_round,
    search_max_calls,
)
from streaming.tools.bench.runner import Bench
from streaming.tools.simulator import CONFERENCE, PARTICIPANT, LagHistogram
from tests.conftest import free_port
from tests.factories import CallFactory


def _fake_round(limit: int, *, client_limited_from: int | None = None):
    tried: list[int] = []

    def run(n: int) -> RoundResult:
        tried.append(n)
        client_limited = client_limited_from is not None and n >= client_limited_from
        result = RoundResult(
            server="fake", calls=n, realtime=True, passed=n <= limit and not client_limited
        )
        result.client_limited = client_limited
        return result

    return run, tried


def test_search_doubles_then_bisects_to_the_largest_passing_n():
    run, tried = _fake_round(137)
    best, rounds = search_max_calls(run, start=50, max_calls=1000, max_rounds=20)
    assert tried[:3] == [50, 100, 200]
    assert best is not None
    assert best.calls >= 137 - max(2, int(137 * 0.05))
    assert best.calls <= 137
    assert all(r.passed == (r.calls <= 137) for r in rounds)
    # The bracket closed: the smallest failure is just above the answer.
    assert min(r.calls for r in rounds if not r.passed) - best.calls <= max(2, int(137 * 0.05))


def test_search_stops_at_max_calls_and_within_its_round_budget():
    run, tried = _fake_round(10_000)
    best, _ = search_max_calls(run, start=50, max_calls=300, max_rounds=20)
    assert tried == [50, 100, 200, 300]
    assert best.calls == 300
    run, tried = _fake_round(137)
    search_max_calls(run, start=50, max_calls=1000, max_rounds=4)
    assert len(tried) == 4


def test_search_goes_down_when_even_the_first_round_fails():
    run, _ = _fake_round(7)
    best, _ = search_max_calls(run, start=50, max_calls=1000, max_rounds=20)
    assert best is not None
    assert 6 <= best.calls <= 7


def test_search_stops_when_the_simulator_is_the_limit():
    run, tried = _fake_round(10_000, client_limited_from=400)
    best, rounds = search_max_calls(run, start=100, max_calls=1000, max_rounds=20)
    assert tried == [100, 200, 400]  # 400 "failed" only because the client could not keep up
    assert best.calls == 200
    assert rounds[-1].client_limited


def _report(sent: int = 500, *, refused: bool = False, timed_out: bool = False) -> dict:
    connection = {"outcome": "rejected" if refused else "accepted"}
    perspective = {"frames_sent": 0 if refused else sent, "frames_unsent": sent if refused else 0}
    return {
        "timed_out": timed_out,
        "first_media_at": 1000.0,
        "last_media_at": 1010.0,
        "send_lag_ms": {"p99": 3.0},
        "calls": [
            {
                "call_id": "b-1",
                "connections": [connection],
                "perspectives": {PARTICIPANT: dict(perspective), CONFERENCE: dict(perspective)},
            }
        ],
    }


def _received(participant: dict | None = None, conference: dict | None = None) -> dict:
    ok = {"frames_received": 500, "gaps_filled_frames": 0, "late_dropped": 0}
    return {"b-1": {PARTICIPANT: participant or ok, CONFERENCE: conference or ok}}


def _lag(ms: float, count: int = 1000) -> LagHistogram:
    lag = LagHistogram()
    for _ in range(count):
        lag.add(ms)
    return lag


def _evaluate(report: dict, received: dict, lag: LagHistogram) -> RoundResult:
    result = RoundResult(server="x", calls=1, realtime=True)
    return evaluate_round(result=result, report=report, received=received, lag=lag, p99_limit_ms=50)


def test_a_round_with_every_frame_and_low_lag_passes():
    result = _evaluate(_report(), _received(), _lag(3))
    assert result.passed, result.reasons
    assert (result.frames_sent, result.frames_received, result.frames_lost) == (1000, 1000, 0)
    assert result.frames_per_second == pytest.approx(1000 / 10.003, abs=0.1)


@pytest.mark.parametrize(
    ("report", "received", "lag", "reason"),
    [
        (_report(), _received({"frames_received": 499}), _lag(3), "1 frame(s) lost"),
        (
            _report(),
            _received({"frames_received": 500, "frames_written": 498}),  # 2 were duplicates
            _lag(3),
            "2 frame(s) lost",
        ),
        (
            _report(),
            _received(None, {"frames_received": 500, "gaps_filled_frames": 2}),
            _lag(3),
            "gap-filled",
        ),
        (
            _report(),
            _received({"frames_received": 500, "late_dropped": 1}),
            _lag(3),
            "dropped as late",
        ),
        (_report(), _received(), _lag(50), "p99 lag 50 ms"),
        (_report(), {}, _lag(3), "missing on the server"),
        (_report(refused=True), {}, LagHistogram(), "refused"),
        (_report(timed_out=True), _received(), _lag(3), "deadline"),
    ],
)
def test_a_round_fails_for_each_kind_of_loss_or_lag(report, received, lag, reason):
    result = _evaluate(report, received, lag)
    assert not result.passed
    assert any(reason in r for r in result.reasons), result.reasons


def test_p99_counts_the_slowest_percent():
    lag = _lag(3, 989)
    for _ in range(11):
        lag.add(400)  # 1.1 % of frames over the limit: p99 is over it too
    result = _evaluate(_report(), _received(), lag)
    assert not result.passed
    assert result.frames_over_limit == 11


def test_repeats_take_the_median_lag_but_any_loss_fails():
    def round_(p99: float, lost: int = 0) -> RoundResult:
        result = RoundResult(server="x", calls=10, realtime=True, passed=p99 < 50 and not lost)
        result.lag_ms = {"p99": p99}
        result.frames_lost = lost
        return result

    median = combine_repeats([round_(200), round_(10), round_(20)])
    assert (median.lag_ms["p99"], median.passed) == (20, True)
    assert [r["p99"] for r in median.repeats] == [200, 10, 20]
    lossy = combine_repeats([round_(10), round_(20), round_(30, lost=3)])
    assert not lossy.passed
    assert "loss in 1 of 3 rounds" in lossy.reasons


def test_the_report_states_each_target_against_the_reference(tmp_path):
    class Output:
        def write(self, line: str) -> None:  # a bound method, as the command's logger is
            self.last = line

    settings = BenchSettings(servers=["reference", "daphne"], work_dir=tmp_path)
    settings.log = Output().write
    passing = RoundResult(server="daphne", calls=150, realtime=True, passed=True)
    passing.rss_baseline, passing.rss_peak = 50 * 2**20, 125 * 2**20
    summaries = [
        ServerSummary(server="reference", max_calls=300, calls_per_core=300),
        ServerSummary(
            server="daphne",
            max_calls=150,
            calls_per_core=150,
            ratio_to_reference=0.5,
            rss_per_call=passing.rss_per_call,
            rounds=[passing],
        ),
    ]
    report = bench_report(summaries, settings=settings)
    assert report["settings"]["work_dir"] == str(tmp_path)
    assert {(t["target"], t["met"]) for t in report["targets"]} == {
        (">= 200 real-time calls per core", False),
        (">= 0.6 of the reference", False),
        ("<= 1 MB RSS per call", True),
    }
    assert report["servers"][1]["rounds"][0]["rss_per_call"] == 0.5 * 2**20
    table = format_table(summaries, settings=settings)
    assert "0.50 MB" in table
    assert "NOT met" in table


def test_the_command_refuses_unknown_servers():
    with pytest.raises(CommandError, match="unknown server"):
        call_command("ingest_bench", "--servers", "reference,tornado")


# --- Processes ---------------------------------------------------------------------------------


def test_stop_process_ends_the_whole_process_group(tmp_path):
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    log = tmp_path / "parent.log"
    parent = start_process(
        [sys.executable, "-c", script], env=os.environ, cwd=tmp_path, log_path=log
    )
    deadline = time.monotonic() + 20
    while not log.read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(log.read_text().split()[0])
    assert child in process_tree(parent.pid)
    assert rss_bytes(parent.pid) > 0

    assert stop_process(parent, timeout=5) == -signal.SIGTERM
    deadline = time.monotonic() + 10  # the orphan is reaped by init, not by us: poll for it
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper has already ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def test_wait_for_port_notices_a_server_that_died(tmp_path):
    process = start_process(
        [sys.executable, "-c", "raise SystemExit(3)"],
        env=os.environ,
        cwd=tmp_path,
        log_path=tmp_path / "x.log",
    )
    process.wait(timeout=20)
    with pytest.raises(RuntimeError, match="code 3"):
        wait_for_port("127.0.0.1", free_port(), timeout=5, process=process)
    assert isinstance(process, subprocess.Popen)


# --- The ingest's database, read in the ingest's own process -----------------------------------


def _result(output: str):
    [line] = [line for line in output.splitlines() if line.startswith(ingest_db.RESULT_MARK)]
    return json.loads(line[len(ingest_db.RESULT_MARK) :])


@pytest.mark.django_db
def test_the_ingest_side_creates_its_profile_once_and_reads_a_rounds_calls(capsys):
    assert ingest_db.main(["create-profile"]) == 0
    secret = _result(capsys.readouterr().out)
    assert secret
    assert ingest_db.create_profile() == secret  # found again, not created twice
    assert StreamingProfile.objects.count() == 1

    stats = {"perspectives": {PARTICIPANT: {"frames_written": 500}}}
    CallFactory(ringcx_call_id="bench7-1", status=CallStatus.COMPLETED, stream_stats=stats)
    CallFactory(ringcx_call_id="bench7-2", status=CallStatus.LIVE)
    CallFactory(ringcx_call_id="other-1", status=CallStatus.COMPLETED)
    # One call is still live: at the timeout (0 s) the rows are returned as they are.
    assert ingest_db.main(["poll-calls", "--prefix=bench7-", "--expected=2", "--timeout=0"]) == 0
    rows = sorted(_result(capsys.readouterr().out), key=lambda row: row["ringcx_call_id"])
    assert [(r["ringcx_call_id"], r["status"]) for r in rows] == [
        ("bench7-1", "completed"),
        ("bench7-2", "live"),
    ]
    assert rows[0]["stream_stats"] == stats


@pytest.mark.django_db
def test_the_ingest_side_run_in_process_leaves_the_logging_handlers_alone(capsys):
    """Setting Django up again would rebuild the handlers on this test's captured stderr, which
    is closed once the test ends: every later test that logs would then fail."""
    handlers = list(logging.getLogger().handlers)
    assert ingest_db.main(["create-profile"]) == 0
    assert logging.getLogger().handlers == handlers


def test_the_bench_sets_up_a_fresh_ingest_database_through_the_ingest_processes(tmp_path):
    bench = Bench(BenchSettings(servers=["daphne"], work_dir=tmp_path, log=lambda line: None))
    bench.setup_ingest()  # manage.py migrate, then python -m ...ingest_db create-profile
    secret = bench.secret
    assert secret
    assert (tmp_path / "var" / "ringadmin.sqlite3").is_file()
    assert bench.ingest_db("create-profile") == secret
    assert bench.ingest_db("poll-calls", "--prefix=none-", "--expected=0", "--timeout=0") == []
