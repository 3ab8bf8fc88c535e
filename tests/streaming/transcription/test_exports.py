"""Transcript downloads: text, JSON and WebVTT built from turns."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streaming.transcription.exports import (
    clock,
    transcript_json,
    transcript_text,
    transcript_webvtt,
    vtt_escape,
    vtt_timestamp,
)


@dataclass
class T:
    seq: int
    speaker: str
    start: float
    end: float
    text: str
    confidence: float | None = None


TURNS = [
    T(0, "agent", 0.5, 2.25, "Thank you for calling, how can I help?", 0.9),
    T(1, "caller", 2.5, 61.0, "My order <12> & the --> arrow"),
    T(2, "agent", 3725.0004, 3726.9996, "Line one\n\n\nline two"),
]


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "00:00:00.000"),
        (1.5, "00:00:01.500"),
        (61.0126, "00:01:01.013"),
        (3725.0004, "01:02:05.000"),
        (3599.9996, "01:00:00.000"),
        (-3, "00:00:00.000"),
        (float("nan"), "00:00:00.000"),
        (360_000, "100:00:00.000"),
    ],
)
def test_vtt_timestamps(seconds: float, expected: str) -> None:
    assert vtt_timestamp(seconds) == expected


def test_webvtt_document() -> None:
    vtt = transcript_webvtt(TURNS)
    assert vtt.startswith("WEBVTT\n\n")
    assert (
        "1\n00:00:00.500 --> 00:00:02.250\n<v Agent>Thank you for calling, how can I help?\n" in vtt
    )
    assert "<v Caller>My order &lt;12&gt; &amp; the --&gt; arrow\n" in vtt
    assert "3\n01:02:05.000 --> 01:02:07.000\n<v Agent>Line one\nline two\n" in vtt
    cue_lines = [line for line in vtt.splitlines() if line.startswith("<v ")]
    assert len(cue_lines) == 3
    assert sum("-->" in line for line in vtt.splitlines()) == 3  # only the timing lines


def test_empty_turns_make_no_cue() -> None:
    vtt = transcript_webvtt([T(0, "agent", 0, 1, "   \n ")])
    assert vtt == "WEBVTT\n"


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=80), start=st.floats(allow_nan=True), end=st.floats(allow_nan=True))
def test_any_cue_text_stays_one_cue(text: str, start: float, end: float) -> None:
    vtt = transcript_webvtt([T(0, "caller", start, end, text)])
    blocks = vtt.rstrip("\n").split("\n\n")
    assert blocks[0] == "WEBVTT"
    escaped = vtt_escape(text)
    if not escaped:
        return
    cue = blocks[1].split("\n")
    assert re.fullmatch(r"\d{2,}:\d{2}:\d{2}\.\d{3} --> \d{2,}:\d{2}:\d{2}\.\d{3}", cue[1])
    body = "\n".join(cue[2:])
    assert "-->" not in body
    assert "<" not in body.removeprefix("<v Caller>")
    assert "" not in cue  # no blank line inside the cue


def test_text_export() -> None:
    text = transcript_text(TURNS, heading="Call 42")
    assert text.splitlines() == [
        "Call 42",
        "",
        "[00:00:00] Agent: Thank you for calling, how can I help?",
        "[00:00:02] Caller: My order <12> & the --> arrow",
        "[01:02:05] Agent: Line one line two",
    ]
    assert clock(59.99) == "00:00:59"


def test_json_export() -> None:
    document = transcript_json(TURNS, about={"call": {"id": 7}})
    assert document["call"] == {"id": 7}
    assert [turn["speaker"] for turn in document["turns"]] == ["agent", "caller", "agent"]
    assert document["turns"][0] == {
        "seq": 0,
        "speaker": "agent",
        "start": 0.5,
        "end": 2.25,
        "text": "Thank you for calling, how can I help?",
        "confidence": 0.9,
    }
