"""The committed speech fixtures (tests/fixtures/speech) and the command line::

python -m streaming.tools.bench.speechset fetch [--cache DIR]
python -m streaming.tools.bench.speechset fixtures tests/fixtures/speech [--cache DIR]
python -m streaming.tools.bench.speechset manifest
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from streaming.audio.wav import wav_bytes

from .audio import speech_bounds
from .common import AGENT, CALLER, DEFAULT_CACHE, SAMPLE_RATE, SpeechSetError
from .dialogue import build_stereo_call
from .real import REAL_CLIPS, SOURCES, real_speech_seconds, real_speech_set

FIXTURE_CLIP = "librivox/0870"
STEREO_FIXTURE_CLIPS = ("librivox/0930", "jfk")  # left (agent), right (caller)


def write_fixtures(out_dir: str | Path, cache_dir: str | Path) -> list[Path]:
    """Write the committed test fixtures (see tests/fixtures/speech/README.md)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clips = {clip.name: clip for clip in REAL_CLIPS}
    wanted = {FIXTURE_CLIP, *STEREO_FIXTURE_CLIPS}
    sources = sorted({clips[name].source for name in wanted})
    items = {item.name: item for item in real_speech_set(cache_dir, sources=sources)}

    def describe(name: str) -> dict[str, Any]:
        clip, source = clips[name], SOURCES[clips[name].source]
        return {
            "name": name,
            "text": clip.transcript,
            "speaker": clip.speaker,
            "licence": clip.licence,
            "source": f"{source.registry}:{source.package}=={source.version}",
            "path": clip.path,
            "transcript_from": clip.transcript_from,
        }

    mono = items[FIXTURE_CLIP].samples
    start, end = speech_bounds(mono)
    written = [out / "real_speech_8k.wav", out / "real_speech_8k.json"]
    written[0].write_bytes(wav_bytes(mono))
    meta = describe(FIXTURE_CLIP) | {
        "format": "WAV, mono, 8 kHz, 16-bit PCM (after a G.711 mu-law round trip)",
        "duration": round(len(mono) / SAMPLE_RATE, 3),
        "speech_start": round(start, 2),
        "speech_end": round(end, 2),
    }
    written[1].write_text(json.dumps(meta, indent=2) + "\n")

    left, right = STEREO_FIXTURE_CLIPS
    call = build_stereo_call(
        [(AGENT, items[left].samples, items[left].transcript),
         (CALLER, items[right].samples, items[right].transcript)],
        lead_in=0.5, pause=1.0, tail=0.5,
    )  # fmt: skip
    written += [out / "call_stereo_8k.wav", out / "call_stereo_8k.json"]
    call.write_wav(written[2], encoding="mulaw")
    channels = {}
    for turn, name, side in zip(call.turns, (left, right), ("left", "right"), strict=True):
        channels[side] = describe(name) | {
            "role": turn.speaker,
            "start": round(turn.start, 2),
            "end": round(turn.end, 2),
        }
    meta = {
        "format": "WAV, stereo, 8 kHz, G.711 mu-law: left = agent, right = caller",
        "duration": round(call.duration, 3),
        "left": channels["left"],
        "right": channels["right"],
    }
    written[3].write_text(json.dumps(meta, indent=2) + "\n")
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streaming.tools.bench.speechset")
    parser.add_argument("command", choices=("fetch", "fixtures", "manifest"))
    parser.add_argument("out_dir", nargs="?", default="tests/fixtures/speech")
    parser.add_argument("--cache", default=str(DEFAULT_CACHE))
    args = parser.parse_args(argv)
    try:
        if args.command == "manifest":
            for clip in REAL_CLIPS:
                print(f"{clip.name}\t{clip.seconds:.2f}s\t{clip.licence}\t{clip.transcript}")
            print(f"total {real_speech_seconds():.1f} s")
        elif args.command == "fetch":
            items = real_speech_set(args.cache)
            seconds = sum(len(item.samples) for item in items) / SAMPLE_RATE
            print(f"{len(items)} real clips, {seconds:.1f} s, in {args.cache}")
        else:
            for path in write_fixtures(args.out_dir, args.cache):
                print(path)
    except SpeechSetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
