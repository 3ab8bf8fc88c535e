"""``Call.stream_stats`` has one layout: the pipeline writes exactly it, and the admin and
``manage.py calls show`` show every key of it (and any key not in it yet)."""

from __future__ import annotations

import html
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import call_command

from ringadmin.calls.stream_stats_layout import (
    LagStats,
    PerspectiveStats,
    RecordingStats,
    StreamStats,
    TapStats,
    label,
    layout_keys,
)
from streaming.audio.pipeline import CallPipeline, PipelineConfig
from streaming.audio.protocol import CONFERENCE, PARTICIPANT, Media
from tests.factories import CallFactory
from tests.helpers import PROJECT_DIR

SECTIONS = {"recording": RecordingStats, "taps": TapStats, "lag_ms": LagStats}


def pipeline_stats(tmp_path) -> StreamStats:
    """A short call through the real pipeline: a lost frame, a duplicate, sender stamps."""
    pipeline = CallPipeline(path=tmp_path / "call.wav", config=PipelineConfig())
    pipeline.subscribe()
    feed = pipeline.open_socket()
    now = 1_000.0
    for sequence in range(1, 60):
        for leg in (PARTICIPANT, CONFERENCE):
            if (leg, sequence) == (CONFERENCE, 30):
                continue  # lost: filled with silence
            now += 0.01
            message = Media(leg, sequence, b"\xff" * 160, sent_at=now - 0.02)
            pipeline.media(feed, message, now)
            if sequence == 10:
                pipeline.media(feed, message, now)
        pipeline.tick(now)
    pipeline.stop(feed, None)
    return pipeline.close()


def required(layout: type) -> set[str]:
    return set(layout.__required_keys__)


def test_the_pipeline_writes_exactly_the_layout(tmp_path) -> None:
    stats = pipeline_stats(tmp_path)
    assert required(StreamStats) <= set(stats) <= set(layout_keys(StreamStats))
    assert "lag_ms" in stats  # measured: the sender stamped its frames
    for name in (PARTICIPANT, CONFERENCE):
        assert set(stats["perspectives"][name]) == set(layout_keys(PerspectiveStats))
    for key, layout in SECTIONS.items():
        assert required(layout) <= set(stats[key]) <= set(layout_keys(layout)), key
    assert stats["perspectives"][CONFERENCE]["gaps_filled_frames"] == 1
    assert stats["perspectives"][PARTICIPANT]["duplicates"] == 1


def test_the_layout_imports_neither_django_nor_celery() -> None:
    """The pure audio pipeline imports the layout from the core: that must stay pure."""
    code = (
        "import sys, streaming.audio.pipeline, ringadmin.calls.stream_stats; "
        "print(sorted({m.split('.')[0] for m in sys.modules} "
        "& {'django', 'celery', 'kombu', 'channels'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.django_db
def test_the_admin_shows_every_key_the_pipeline_wrote(tmp_path, client, make_user) -> None:
    stats = pipeline_stats(tmp_path)
    stats["recording"]["sha256"] = "ab" * 32  # added by the fingerprint task
    stats["added_later"] = {"by": "a newer ingest"}  # not in the layout yet
    call = CallFactory(stream_stats=stats)
    client.force_login(make_user("admin"))
    page = html.unescape(client.get(f"/admin/calls/call/{call.pk}/change/").content.decode())
    for key in layout_keys(PerspectiveStats):
        assert f"<th>{label(PerspectiveStats, key).long}</th>" in page, key
    leg = stats["perspectives"][PARTICIPANT]
    ordered = {k: leg[k] for k in layout_keys(PerspectiveStats)}
    cells = "".join(f"<td>{'' if v is None else v}</td>" for v in ordered.values())
    assert f"<tr><td>Participant</td>{cells}</tr>" in page
    for key in ("patched_samples", "sha256", "subscribers", "p95", "histogram"):
        assert key in page, key
    assert "<th>sha256</th>" in page  # the recording section is a table of its own
    assert f"<td>{'ab' * 32}</td>" in page
    assert "<th>added_later</th><td>{by: a newer ingest}</td>" in page


@pytest.mark.django_db
def test_calls_show_prints_every_key_the_pipeline_wrote(tmp_path) -> None:
    stats = pipeline_stats(tmp_path)
    stats["perspectives"][PARTICIPANT]["new_counter"] = 7  # not in the layout yet
    CallFactory(ringcx_call_id="c-9", stream_stats=stats)
    out = StringIO()
    call_command("calls", "show", "c-9", stdout=out)
    text = out.getvalue()
    header = next(line for line in text.splitlines() if line.strip().startswith("PERSPECTIVE"))
    for key in layout_keys(PerspectiveStats):
        assert label(PerspectiveStats, key).short in header, key
    assert header.rstrip().endswith("NEW COUNTER")
    recording = next(line for line in text.splitlines() if line.strip().startswith("audio"))
    assert f"patched_samples {stats['recording']['patched_samples']}" in recording
    assert f"(subscribers {stats['taps']['subscribers']})" in text
    lag = next(line for line in text.splitlines() if line.strip().startswith("lag ms"))
    assert lag.split(None, 2)[2].startswith(f"count {stats['lag_ms']['count']}, p50 ")
    assert "histogram {" in lag
