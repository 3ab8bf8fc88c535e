"""Speech test data tooling: text normalisation, word error rate, stereo calls, the committed
speech fixtures and the real-speech manifest. Nothing here downloads."""

from __future__ import annotations

import hashlib
import io
import json
import re
import wave

import numpy as np
import pytest

from streaming.audio.wav import wav_bytes
from streaming.tools.bench import speechset
from streaming.tools.bench.speechset import (
    AGENT,
    CALLER,
    ErrorCounts,
    build_stereo_call,
    corpus_error_counts,
    corpus_word_error_rate,
    edit_counts,
    normalize_text,
    number_to_words,
    resample,
    speech_bounds,
    through_mulaw,
    word_error_counts,
    word_error_rate,
)
from streaming.tools.bench.speechset import real as real_speech
from streaming.tools.simulator import load_wav
from tests.helpers import PROJECT_DIR

FIXTURES = PROJECT_DIR / "tests" / "fixtures" / "speech"
RATE = 8000


# --- Normalisation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Go forward 10 meters.", "go forward ten meters"),
        ("  Hello,   WORLD!  ", "hello world"),
        ("I'm sorry, that's not a valid extension.", "i am sorry that is not a valid extension"),
        (
            "I can't, we won't, they're, you've, I'd, we'll",
            "i can not we will not they are you have i would we will",
        ),
        ("Mr. Dashwood", "mister dashwood"),
        ("um, OK, uh, fine", "okay fine"),
        ("re-entered the e-mail", "re entered the email"),
        ("Call 0770 900 1234", "call zero seven seven zero nine zero zero one two three four"),
        ("account 48273915", "account four eight two seven three nine one five"),
        ("the 30th of June, the 1st, 22nd", "the thirtieth of june the first twenty second"),
        (
            "15% off, $20, 28.8 kbit",
            "fifteen percent off twenty dollars twenty eight point eight kbit",
        ),
        ("1,000 people and 2000 more", "one thousand people and two thousand more"),
        ("4 or 6", "four or six"),
        ("Rock & roll", "rock and roll"),
        ("Caf\u00e9 \u201cquoted\u201d \u2014 don\u2019t", "cafe quoted do not"),
        ("", ""),
    ],
)
def test_normalize_text(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    ("number", "words"),
    [
        (0, "zero"),
        (7, "seven"),
        (13, "thirteen"),
        (40, "forty"),
        (99, "ninety nine"),
        (105, "one hundred five"),
        (1000, "one thousand"),
        (2024, "two thousand twenty four"),
        (1_000_001, "one million one"),
    ],
)
def test_number_to_words(number: int, words: str) -> None:
    assert number_to_words(number) == words


def test_digits_and_words_match_each_other() -> None:
    assert normalize_text("ten of clubs") == normalize_text("10 of clubs")
    assert normalize_text("press one now") == normalize_text("Press 1 now.")
    assert normalize_text("it's four eight two seven") == normalize_text("It's 4827.")


# --- Word error rate ---------------------------------------------------------------------------


def test_identical_is_zero() -> None:
    assert word_error_rate("the cat sat down", "the cat sat down") == 0.0
    assert word_error_counts("the cat sat down", "The cat, sat down!") == (0, 0, 0, 4)


def test_one_substitution_in_four_words() -> None:
    assert word_error_rate("the cat sat down", "the dog sat down") == 0.25
    assert word_error_counts("the cat sat down", "the dog sat down") == (1, 0, 0, 4)


def test_deletion_and_insertion() -> None:
    assert word_error_counts("the cat sat down", "the cat down") == (0, 1, 0, 4)
    assert word_error_counts("the cat sat down", "the big cat sat down") == (0, 0, 1, 4)
    assert word_error_rate("the cat sat down", "the big cat sat down now") == 0.5
    assert word_error_counts("a b c", "") == (0, 3, 0, 3)
    assert word_error_rate("a b", "x y z w") == 2.0  # insertions can exceed the reference


def test_numbers_are_normalised_before_scoring() -> None:
    assert word_error_rate("go forward ten meters", "Go forward 10 meters.") == 0.0
    assert word_error_rate("I am sorry, that is not valid", "I'm sorry, that's not valid") == 0.0
    assert word_error_rate("go forward ten meters", "go forward 10 meters", normalize=False) == 0.25


def test_empty_reference() -> None:
    assert word_error_rate("", "") == 0.0
    assert word_error_rate("", "something") == 1.0
    assert word_error_counts("...", "hello") == (0, 0, 1, 0)


def test_counts_aggregate_into_a_corpus_rate() -> None:
    pairs = [("the cat sat down", "the dog sat down"), ("a b c d e f", "a b c d e f g h")]
    counts = corpus_error_counts(pairs)
    assert counts == ErrorCounts(1, 0, 2, 10)
    assert counts.errors == 3
    assert corpus_word_error_rate(pairs) == pytest.approx(0.3)
    # not the mean of per-utterance rates (0.25 and 0.333...)
    assert corpus_word_error_rate(pairs) != pytest.approx((0.25 + 2 / 6) / 2)
    s, d, i, n = word_error_counts("one two three", "one too three four")
    assert (s, d, i, n) == (1, 0, 1, 3)


def _levenshtein(a: list[str], b: list[str]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, start=1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


def test_edit_counts_are_a_minimal_alignment() -> None:
    rng = np.random.default_rng(7)
    vocabulary = list("abcde")
    for _ in range(300):
        ref = list(rng.choice(vocabulary, size=rng.integers(0, 9)))
        hyp = list(rng.choice(vocabulary, size=rng.integers(0, 9)))
        s, d, i, n = edit_counts(ref, hyp)
        assert n == len(ref)
        assert s + d + i == _levenshtein(ref, hyp)
        assert n - d + i == len(hyp)  # every reference word is kept or deleted


# --- Audio helpers -----------------------------------------------------------------------------


def _tone(frequency: float, seconds: float, rate: int, amplitude: float = 10000) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.int16)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))


@pytest.mark.parametrize("rate", [48000, 22050, 16000])
def test_resample_keeps_the_telephone_band_and_drops_the_rest(rate: int) -> None:
    passed = resample(_tone(1000, 1.0, rate), rate)
    assert len(passed) == RATE
    assert _rms(passed[200:-200]) == pytest.approx(10000 / np.sqrt(2), rel=0.02)
    stopped = resample(_tone(6000, 1.0, rate), rate)
    assert _rms(stopped[200:-200]) < 20


def test_resample_at_the_same_rate_is_a_copy() -> None:
    samples = _tone(440, 0.1, RATE)
    assert np.array_equal(resample(samples, RATE), samples)


def test_mulaw_round_trip_is_stable() -> None:
    once = through_mulaw(_tone(440, 0.2, RATE))
    assert np.array_equal(through_mulaw(once), once)
    assert np.abs(once.astype(int) - _tone(440, 0.2, RATE)).max() < 400


def test_speech_bounds_finds_the_burst() -> None:
    rng = np.random.default_rng(1)
    audio = (rng.normal(0, 30, 3 * RATE)).astype(np.int16)  # a quiet noise floor
    audio[RATE : 2 * RATE] += _tone(300, 1.0, RATE, 8000)
    start, end = speech_bounds(audio)
    assert start == pytest.approx(1.0, abs=0.02)
    assert end == pytest.approx(2.0, abs=0.02)
    assert speech_bounds(np.zeros(RATE, np.int16)) == (0.0, 0.0)


@pytest.mark.parametrize("encoding", ["pcm16", "mulaw"])
def test_wav_bytes_read_back(tmp_path, encoding: str) -> None:
    stereo = np.stack([_tone(300, 0.5, RATE), _tone(700, 0.5, RATE, 3000)], axis=1)
    path = tmp_path / "x.wav"
    path.write_bytes(wav_bytes(stereo, encoding=encoding))
    audio = load_wav(path)
    expected = stereo if encoding == "pcm16" else through_mulaw(stereo.reshape(-1)).reshape(-1, 2)
    assert np.array_equal(audio.left, expected[:, 0])
    assert np.array_equal(audio.right, expected[:, 1])


def test_mono_pcm_wav_is_standard() -> None:
    samples = _tone(300, 0.25, RATE)
    with wave.open(io.BytesIO(wav_bytes(samples))) as reader:
        assert (reader.getnchannels(), reader.getframerate(), reader.getsampwidth()) == (1, RATE, 2)
        assert np.array_equal(np.frombuffer(reader.readframes(10**6), "<i2"), samples)


# --- Stereo calls ------------------------------------------------------------------------------


def _utterance(seconds: float, frequency: float) -> np.ndarray:
    """Speech-like audio: 0.2 s of silence, a tone burst, 0.3 s of silence."""
    return np.concatenate(
        [
            np.zeros(round(0.2 * RATE), np.int16),
            _tone(frequency, seconds, RATE, 6000),
            np.zeros(round(0.3 * RATE), np.int16),
        ]
    )


def test_build_stereo_call_puts_speakers_on_their_channels_in_turn() -> None:
    call = build_stereo_call(
        [
            (AGENT, _utterance(1.0, 300), "hello how can I help"),
            (CALLER, _utterance(1.5, 500), "I would like to cancel"),
            (AGENT, _utterance(0.5, 300), "certainly"),
        ],
        lead_in=1.0,
        pause=0.5,
        tail=1.0,
    )
    turns = call.turns
    assert [t.speaker for t in turns] == [AGENT, CALLER, AGENT]
    # leading and trailing silence trimmed (50 ms kept), so the pause is the real gap
    assert turns[0].start == pytest.approx(1.05, abs=0.02)
    assert turns[0].end == pytest.approx(2.05, abs=0.02)
    assert turns[1].start == pytest.approx(turns[0].end + 0.05 + 0.5 + 0.05, abs=0.02)
    assert turns[1].end - turns[1].start == pytest.approx(1.5, abs=0.02)
    assert turns[2].start > turns[1].end
    assert call.duration == pytest.approx(turns[2].end + 0.05 + 1.0, abs=0.02)
    assert len(call.left) == len(call.right)
    for turn in turns:
        a, b = round(turn.start * RATE) + 40, round(turn.end * RATE) - 40
        own, other = (call.left, call.right) if turn.speaker == AGENT else (call.right, call.left)
        assert _rms(own[a:b]) > 3000
        assert not other[a:b].any()  # the other party is silent meanwhile
    assert call.text(AGENT) == "hello how can I help certainly"
    assert call.text(CALLER) == "I would like to cancel"
    stereo = call.stereo()
    assert stereo.shape == (len(call.left), 2)
    assert np.array_equal(stereo[:, 0], call.left)


def test_stereo_call_exports(tmp_path) -> None:
    call = build_stereo_call(
        [(AGENT, _utterance(0.5, 300), "hi"), (CALLER, _utterance(0.5, 500), "hello")]
    )
    path = call.write_wav(tmp_path / "call.wav", encoding="mulaw")
    audio = load_wav(path)
    assert audio.duration == pytest.approx(call.duration)
    assert np.abs(audio.left.astype(int) - call.left).max() < 300
    simulated = call.simulator_audio()
    assert np.array_equal(simulated.left, call.left)
    assert np.array_equal(simulated.right, call.right)
    expected = json.loads(json.dumps(call.expected()))
    assert expected["agent"] == "hi"
    assert expected["caller"] == "hello"
    assert [t["speaker"] for t in expected["turns"]] == [AGENT, CALLER]
    assert expected["channels"] == {"left": AGENT, "right": CALLER}


def test_build_stereo_call_rejects_unknown_speakers() -> None:
    with pytest.raises(ValueError, match="speaker"):
        build_stereo_call([("supervisor", _utterance(0.5, 300), "x")])


@pytest.mark.needs_espeak
def test_espeak_dialogue_call(tmp_path) -> None:
    dialogue = ((AGENT, "Thank you for calling."), (CALLER, "I'd like to cancel, please."))
    call = speechset.dialogue_call(tmp_path, dialogue=dialogue, pause=0.6)
    assert [t.speaker for t in call.turns] == [AGENT, CALLER]
    assert call.turns[0].end + 0.6 < call.turns[1].start
    first, second = call.turns
    assert _rms(call.left[round(first.start * RATE) : round(first.end * RATE)]) > 300
    assert not call.right[: round(first.end * RATE)].any()
    assert not call.left[round(second.start * RATE) :].any()
    items = speechset.synthetic_dialogue_set(tmp_path)  # rendered lines are cached
    assert len(items) == len(speechset.DIALOGUE) >= 20
    assert items[0].name == "dialogue-01-agent"
    assert items[1].name == "dialogue-02-caller"
    assert items[0].samples.dtype == np.int16


# --- The real-speech manifest and set ----------------------------------------------------------


def test_manifest_is_complete() -> None:
    names = [clip.name for clip in speechset.REAL_CLIPS]
    assert len(names) == len(set(names))
    for clip in speechset.REAL_CLIPS:
        source = speechset.SOURCES[clip.source]
        assert source.registry in ("pypi", "debian", "npm")
        assert re.fullmatch(r"[0-9a-f]{64}", clip.sha256), clip.name
        assert clip.transcript.strip()
        assert clip.licence
        assert clip.transcript_from
        assert normalize_text(clip.transcript)
    assert speechset.real_speech_seconds() >= 120
    assert len({clip.speaker for clip in speechset.REAL_CLIPS}) >= 5


def test_real_speech_set_uses_the_cache_and_reports_download_failures(tmp_path, monkeypatch):
    audio = _utterance(0.5, 300)
    payload = wav_bytes(resample(audio, RATE, 16000), rate=16000)
    clip = speechset.RealClip(
        "test/clip", "fake", "pkg/clip.wav", hashlib.sha256(payload).hexdigest(),
        0.0, "tester", "CC0", "hello", "here",
    )  # fmt: skip
    source = speechset.SpeechSource("fake", "npm", "fake-pkg", "1.0.0", "CC0", "-")
    monkeypatch.setattr(real_speech, "SOURCES", {"fake": source})
    monkeypatch.setattr(real_speech, "REAL_CLIPS", (clip,))

    def refused(command, cwd, what):
        raise speechset.SpeechSetError(f"cannot {what}: no network")

    monkeypatch.setattr(real_speech, "run_tool", refused)
    with pytest.raises(speechset.SpeechSetError, match=r"download fake-pkg 1\.0\.0 from npm"):
        speechset.real_speech_set(tmp_path)

    cached = tmp_path / "files" / "fake" / "pkg" / "clip.wav"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(payload)
    [(name, samples, transcript)] = speechset.real_speech_set(tmp_path)
    assert (name, transcript) == ("test/clip", "hello")
    assert samples.dtype == np.int16
    assert len(samples) == pytest.approx(len(audio), abs=2)
    assert np.array_equal(through_mulaw(samples), samples)  # already through mu-law

    with pytest.raises(speechset.SpeechSetError, match="unknown speech sources"):
        speechset.real_speech_set(tmp_path, sources=["nope"])


# --- Committed fixtures ------------------------------------------------------------------------


def test_real_speech_fixture() -> None:
    path = FIXTURES / "real_speech_8k.wav"
    meta = json.loads((FIXTURES / "real_speech_8k.json").read_text())
    assert path.stat().st_size < 200_000
    with wave.open(str(path)) as reader:
        assert (reader.getnchannels(), reader.getframerate(), reader.getsampwidth()) == (1, RATE, 2)
        samples = np.frombuffer(reader.readframes(reader.getnframes()), "<i2")
    assert 3.0 <= len(samples) / RATE <= 10.0
    assert meta["duration"] == pytest.approx(len(samples) / RATE, abs=0.01)
    clip = {c.name: c for c in speechset.REAL_CLIPS}[meta["name"]]
    assert meta["text"] == clip.transcript
    assert meta["licence"] == clip.licence
    start, end = speech_bounds(samples)
    assert start == pytest.approx(meta["speech_start"], abs=0.05)
    assert end == pytest.approx(meta["speech_end"], abs=0.05)


def test_stereo_call_fixture_has_each_speaker_on_its_own_channel() -> None:
    audio = load_wav(FIXTURES / "call_stereo_8k.wav")
    meta = json.loads((FIXTURES / "call_stereo_8k.json").read_text())
    assert audio.duration <= 20.0
    assert meta["duration"] == pytest.approx(audio.duration, abs=0.01)
    left, right = meta["left"], meta["right"]
    assert left["text"] != right["text"]
    assert left["end"] < right["start"]  # the right channel speaks later
    for channel, other, info in ((audio.left, audio.right, left), (audio.right, audio.left, right)):
        start, end = speech_bounds(channel)
        assert start == pytest.approx(info["start"], abs=0.1)
        assert end == pytest.approx(info["end"], abs=0.1)
        a, b = round(info["start"] * RATE), round(info["end"] * RATE)
        assert _rms(channel[a:b]) > 10 * max(_rms(other[a:b]), 1.0)
