"""The hostile-frames probe: its attacks reach the pipeline, its report says what it measured,
and against a real server the attacks that used to exhaust it now cost nothing."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from streaming.tools.bench.hostile import (
    HUGE,
    AttackResult,
    HostileProbe,
    HostileSettings,
    attacks,
    format_table,
    media_text,
    summary_line,
)


def test_every_attack_frame_is_a_media_message_the_ingest_reads_whole() -> None:
    """Numbers travel as strings (JSON numbers past 64 bits are not integers), and no frame
    may be closed as too big: the attack would measure the size limit instead."""
    for attack in attacks().values():
        for frames in attack.sockets:
            for frame in frames:
                text = media_text(frame)
                assert len(text) <= settings.INGEST_MAX_MESSAGE_BYTES
                message = json.loads(text)
                assert message["event"] == "Media"
                assert int(message["sequenceId"]) == frame.sequence
    huge_first = attacks()["huge-first"].sockets[0]
    assert [f.sequence for f in huge_first[:4]] == [HUGE, 1, 2, 3]
    reconnect = attacks()["reconnect-huge"].sockets
    assert len(reconnect) == 2
    assert reconnect[1][0].sequence == HUGE


def test_the_report_states_each_figure_and_how_the_server_stopped(tmp_path) -> None:
    stuck = AttackResult(
        server="websockets",
        attack="huge-first",
        bytes_sent=15_157,
        rss_baseline=100 * 2**20,
        rss_peak=1_100 * 2**20,
        health_polls=2,
        health_unanswered=2,
        health_worst_ms=2000.0,
        stopped_by="SIGKILL (SIGTERM ignored)",
        exit_code=-9,
    )
    fine = AttackResult(
        server="daphne",
        attack="huge-first",
        rss_baseline=100 * 2**20,
        rss_peak=101 * 2**20,
        health_polls=40,
        health_worst_ms=12.0,
        recording_bytes=8_044,
        stopped_by="SIGTERM",
        exit_code=0,
    )
    table = format_table([stuck, fine], HostileSettings(servers=[], attacks=[], work_dir=tmp_path))
    assert "1,000.0 MB" in table
    assert "no answer in 2 s" in table
    assert "2/2" in table
    assert "SIGKILL (SIGTERM ignored) (exit -9)" in table
    assert "12 ms" in table
    assert "7.9 KB" in table
    assert "huge-first: first sequenceId 10^20" in table
    assert "RSS +1.0 MB" in summary_line(fine)


def test_the_command_refuses_unknown_servers_and_attacks() -> None:
    with pytest.raises(CommandError, match="unknown server"):
        call_command("ingest_hostile", "--servers", "nginx")
    with pytest.raises(CommandError, match="unknown attack"):
        call_command("ingest_hostile", "--attacks", "huge-first,fork-bomb")


@pytest.mark.integration
def test_huge_numbers_no_longer_stall_the_ingest_server(tmp_path) -> None:
    """The report's attack against the ingest's own server: before, /healthz stopped
    answering, memory grew by hundreds of MB within seconds and SIGTERM was ignored."""
    probe = HostileProbe(
        HostileSettings(
            servers=["websockets"],
            attacks=["huge-first", "reconnect-huge"],
            work_dir=tmp_path,
            settle=1.5,
            log=lambda line: None,
        )
    )
    results = probe.run()
    assert [r.attack for r in results] == ["huge-first", "reconnect-huge"]
    for result in results:
        assert result.stopped_by == "SIGTERM", summary_line(result)
        assert result.health_polls > 0
        assert result.health_unanswered == 0, summary_line(result)
        assert result.health_worst_ms < 1000, summary_line(result)
        assert result.rss_growth < 64 * 2**20, summary_line(result)
        assert 0 < result.recording_bytes < 1 * 2**20, summary_line(result)
        assert result.frames_sent == sum(len(s) for s in attacks()[result.attack].sockets)
