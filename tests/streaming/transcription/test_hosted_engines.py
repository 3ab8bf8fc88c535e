"""Google, Deepgram and OpenAI engines against ``FakeSpeech`` on loopback.

The audio is tone bursts at known times (the fake "hears" a voiced region per burst), so
channel mapping and time offsets are checked against where the bursts really are.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from streaming.audio import mulaw
from streaming.transcription.engines.base import (
    BatchEngine,
    EngineNotConfigured,
    EngineUnavailable,
    Segment,
    StereoEngine,
    TranscriptionError,
    Word,
    transcribe_stereo,
)
from streaming.transcription.engines.deepgram import DeepgramConfig, DeepgramEngine
from streaming.transcription.engines.google import (
    GoogleSpeechConfig,
    GoogleSpeechEngine,
    parse_duration,
)
from streaming.transcription.engines.hosted import (
    segments_from_words,
    split_by_voice_activity,
    wav_bytes,
)
from streaming.transcription.engines.openai import MAX_FILE_BYTES, OpenAIConfig, OpenAIEngine
from tests.doubles.fake_speech import OPENAI_MAX_BYTES, FakeSpeech

RATE = 8000
TOLERANCE = 0.03  # the fake finds bursts to the 20 ms frame
AGENT_BURSTS = [(0.5, 1.5), (4.0, 5.2)]
CALLER_BURSTS = [(2.0, 3.2), (6.0, 7.0)]
AGENT_SCRIPT = "Thanks for calling. How can I help?"
CALLER_SCRIPT = "My card was declined."
SA_EMAIL = "stt@ringadmin-test.iam.gserviceaccount.com"
REPO = Path(__file__).resolve().parents[3]


def bursts(
    seconds: float, regions: list[tuple[float, float]], *, freq: float = 440.0, noise: float = 20
) -> np.ndarray:
    """A channel with a tone (amplitude 8000) in each region over faint noise."""
    count = int(seconds * RATE)
    rng = np.random.default_rng(int(seconds * 1000) + len(regions))
    out = rng.normal(0.0, noise, count) if noise else np.zeros(count)
    for start, end in regions:
        first, last = int(start * RATE), int(end * RATE)
        out[first:last] += 8000 * np.sin(2 * np.pi * freq * np.arange(first, last) / RATE)
    return np.clip(out, -32768, 32767).astype(np.int16)


def inside(item: Word | Segment, regions: list[tuple[float, float]]) -> bool:
    return any(a - TOLERANCE <= item.start and item.end <= b + TOLERANCE for a, b in regions)


def words_of(segments: list[Segment]) -> list[Word]:
    return [w for s in segments for w in s.words]


def text_of(segments: list[Segment]) -> str:
    return " ".join(s.text for s in segments)


def one_word_per_burst(segments: list[Segment], regions: list[tuple[float, float]]) -> None:
    """Each burst heard as one whole word at its place: offsets right, no burst cut in two."""
    words = words_of(segments)
    assert len(words) == len(regions)
    for word, (start, end) in zip(words, regions, strict=True):
        assert word.start == pytest.approx(start, abs=TOLERANCE)
        assert word.end == pytest.approx(end, abs=TOLERANCE)


@pytest.fixture
def fake():
    with FakeSpeech() as server:
        yield server


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey) -> tuple[str, str]:
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def key_file(tmp_path: Path, fake: FakeSpeech, key: rsa.RSAPrivateKey) -> str:
    path = tmp_path / "service-account.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "ringadmin-test",
                "private_key_id": "0123abcd",
                "private_key": pem(key)[0],
                "client_email": SA_EMAIL,
                "token_uri": fake.token_uri,
            }
        )
    )
    return str(path)


def google(fake: FakeSpeech, **changes) -> GoogleSpeechEngine:
    options = {"api_key": fake.google_api_key, "base_url": fake.url, "storage_url": fake.url}
    engine_options = {k: changes.pop(k) for k in ("sleep", "clock") if k in changes}
    options.update(changes)
    return GoogleSpeechEngine(GoogleSpeechConfig(**options), **engine_options)


def deepgram(fake: FakeSpeech, **changes) -> DeepgramEngine:
    return DeepgramEngine(
        DeepgramConfig(**{"api_key": fake.deepgram_key, "base_url": fake.url, **changes})
    )


def openai(fake: FakeSpeech, **changes) -> OpenAIEngine:
    return OpenAIEngine(
        OpenAIConfig(**{"api_key": fake.openai_key, "base_url": fake.url, **changes})
    )


# --- shared pieces ------------------------------------------------------------------------------


def test_engines_implement_the_interfaces(fake):
    with google(fake) as g, deepgram(fake) as d, openai(fake) as o:
        assert isinstance(g, BatchEngine)
        assert isinstance(g, StereoEngine)
        assert isinstance(d, BatchEngine)
        assert isinstance(d, StereoEngine)
        assert isinstance(o, BatchEngine)
        assert not hasattr(o, "transcribe_stereo")
        assert (g.info.engine, g.info.model) == ("google", "phone_call/enhanced")
        assert (d.info.engine, d.info.model) == ("deepgram", "nova-2-phonecall")
        assert (o.info.engine, o.info.model) == ("openai", "whisper-1")


def test_split_by_voice_activity_cuts_inside_pauses():
    regions = [(1, 20), (21, 45), (50, 58)]
    audio = bursts(60, regions)
    pieces = split_by_voice_activity(audio, max_seconds=30)
    assert pieces[0][0] == 0
    assert pieces[-1][1] == len(audio)
    assert all(end == start for (_, end), (start, _) in itertools.pairwise(pieces))
    assert all(0 < b - a <= 30 * RATE for a, b in pieces)
    cuts = [end / RATE for _, end in pieces[:-1]]
    assert len(cuts) == 2
    assert not any(a <= cut <= b for cut in cuts for a, b in regions)
    assert cuts[0] == pytest.approx(20.5, abs=0.2)  # the only pause in reach, cut mid-way
    assert 45 < cuts[1] < 50


def test_segments_split_at_pauses_and_sentence_ends():
    words = [
        Word(0.0, 0.3, "Hello", 0.8),
        Word(0.4, 0.7, "there.", 1.0),
        Word(0.8, 1.0, "One", 0.9),
        Word(1.1, 1.3, "moment", 0.9),
        Word(2.2, 2.5, "please", 0.9),
    ]
    segments = segments_from_words(words)
    assert [s.text for s in segments] == ["Hello there.", "One moment", "please"]
    assert (segments[0].start, segments[0].end, segments[0].confidence) == (0.0, 0.7, 0.9)
    assert segments[2].start == 2.2


@pytest.mark.parametrize(
    ("text", "seconds"), [("1.300s", 1.3), ("2s", 2.0), ("0.050s", 0.05), (None, 0.0), (1.5, 1.5)]
)
def test_google_durations_parse(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


# --- Google -------------------------------------------------------------------------------------


def test_google_stereo_is_one_linear16_request_mapped_by_channel_tag(fake):
    fake.set_script(agent=AGENT_SCRIPT, caller=CALLER_SCRIPT)
    left, right = bursts(8, AGENT_BURSTS), bursts(8, CALLER_BURSTS, freq=660)
    progress: list[float] = []
    with google(fake) as engine:
        result = engine.transcribe_stereo(left, right, progress=progress.append)

    assert text_of(result.agent) == AGENT_SCRIPT
    assert text_of(result.caller) == CALLER_SCRIPT
    assert all(inside(w, AGENT_BURSTS) for w in words_of(result.agent))
    assert all(inside(w, CALLER_BURSTS) for w in words_of(result.caller))
    assert all(w.confidence == pytest.approx(0.9) for w in words_of(result.agent))
    assert [s.text for s in result.agent] == ["Thanks for calling.", "How can I help?"]
    assert progress[-1] == 1.0
    (sent,) = fake.requests("google")
    assert sent["status"] == 200
    assert sent["auth"] == "api_key_header"
    assert sent["query"] == {}  # the key stays out of the URL (and out of access logs)
    assert sent["google"]["audio"] == "content"
    assert sent["google"]["audio_channels"] == 2
    assert sent["google"]["config"] == {
        "encoding": "LINEAR16",
        "sampleRateHertz": 8000,
        "audioChannelCount": 2,
        "enableSeparateRecognitionPerChannel": True,
        "languageCode": "en-US",
        "model": "phone_call",
        "useEnhanced": True,
        "enableWordTimeOffsets": True,
        "enableWordConfidence": True,
        "enableAutomaticPunctuation": True,
    }


def test_google_mulaw_sends_each_channel_on_its_own(fake):
    left, right = bursts(8, AGENT_BURSTS), bursts(8, CALLER_BURSTS)
    with google(fake, encoding="MULAW", model="telephony") as engine:
        result = engine.transcribe_stereo(left, right)

    one_word_per_burst(result.agent, AGENT_BURSTS)
    one_word_per_burst(result.caller, CALLER_BURSTS)
    sent = fake.requests("google")
    assert [r["status"] for r in sent] == [200, 200]
    for request in sent:
        config = request["google"]["config"]
        assert config["encoding"] == "MULAW"
        assert config["audioChannelCount"] == 1
        assert config["model"] == "telephony"
        assert "useEnhanced" not in config
        assert "enableSeparateRecognitionPerChannel" not in config
        assert request["google"]["audio_container"] == "raw"


def _google_post(fake: FakeSpeech, path: str, config: dict, audio: dict) -> httpx.Response:
    return httpx.post(
        f"{fake.url}/v1/{path}",
        params={"key": fake.google_api_key},
        json={"config": config, "audio": audio},
    )


def _content(data: bytes) -> dict:
    return {"content": base64.b64encode(data).decode()}


BASE_CONFIG = {"encoding": "LINEAR16", "sampleRateHertz": 8000, "languageCode": "en-US"}


@pytest.mark.parametrize(
    ("path", "config", "audio", "message"),
    [
        pytest.param(
            "speech:recognize",
            {**BASE_CONFIG, "encoding": "MULAW", "audioChannelCount": 2},
            _content(mulaw.encode(bursts(2, [(0.5, 1)]))),
            "MULAW",
            id="mulaw-two-channels",
        ),
        pytest.param(
            "speech:recognize",
            {**BASE_CONFIG, "sampleRateHertz": 16000},
            _content(wav_bytes(bursts(2, [(0.5, 1)]))),
            "must either be unspecified or match the value in the FLAC or WAV header (8000)",
            id="rate-mismatch",
        ),
        pytest.param(
            "speech:recognize",
            {"encoding": "LINEAR16", "languageCode": "en-US"},
            _content(bursts(2, [(0.5, 1)]).tobytes()),
            "sample_rate_hertz is required",
            id="rate-missing",
        ),
        pytest.param(
            "speech:recognize",
            {**BASE_CONFIG, "audioChannelCount": 1},
            _content(wav_bytes(bursts(2, [(0.5, 1)]), bursts(2, [(1, 1.5)]))),
            "Must use single channel (mono) audio, but WAV header indicates 2 channels.",
            id="stereo-wav-as-mono",
        ),
        pytest.param(
            "speech:recognize",
            BASE_CONFIG,
            _content(wav_bytes(bursts(61, [(0.5, 1)], noise=0))),
            "Sync input too long. For audio longer than 1 min use LongRunningRecognize with a "
            "'uri' parameter.",
            id="sync-too-long",
        ),
        pytest.param(
            "speech:longrunningrecognize",
            BASE_CONFIG,
            _content(wav_bytes(bursts(61, [(0.5, 1)], noise=0))),
            "Inline audio exceeds duration limit. Please use a GCS URI.",
            id="inline-long-running-too-long",
        ),
        pytest.param(
            "speech:recognize",
            {**BASE_CONFIG, "model": "phone-call"},
            _content(wav_bytes(bursts(2, [(0.5, 1)]))),
            'The requested model "phone-call" does not exist.',
            id="unknown-model",
        ),
        pytest.param(
            "speech:recognize",
            BASE_CONFIG,
            {"content": "not base64 at all!"},
            "Base64 decoding failed",
            id="bad-base64",
        ),
        pytest.param(
            "speech:recognize",
            {**BASE_CONFIG, "enableWordTimeOffset": True},
            _content(wav_bytes(bursts(2, [(0.5, 1)]))),
            'Unknown name "enableWordTimeOffset"',
            id="unknown-field",
        ),
    ],
)
def test_fake_google_validates_requests(fake, path, config, audio, message):
    response = _google_post(fake, path, config, audio)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 400
    assert error["status"] == "INVALID_ARGUMENT"
    assert message in error["message"]


def test_fake_google_accepts_the_same_request_when_valid(fake):
    response = _google_post(
        fake, "speech:recognize", BASE_CONFIG, _content(wav_bytes(bursts(2, [(0.5, 1)])))
    )
    assert response.status_code == 200
    (result,) = response.json()["results"]
    assert result["alternatives"][0]["transcript"] == "word1"
    assert "channelTag" not in result


def test_google_refused_key_is_a_permanent_error(fake):
    with google(fake, api_key="wrong") as engine, pytest.raises(TranscriptionError) as caught:
        engine.transcribe(bursts(3, [(0.5, 1.5)]))
    assert not isinstance(caught.value, EngineUnavailable)
    assert "INVALID_ARGUMENT" in str(caught.value)
    assert "API key not valid. Please pass a valid API key." in str(caught.value)


@pytest.mark.parametrize(
    ("status", "retry_after", "retryable", "text"),
    [
        (429, 7, True, "RESOURCE_EXHAUSTED"),
        (503, None, True, "The service is currently unavailable."),
        (500, None, True, "Internal error encountered."),
        (403, None, False, "PERMISSION_DENIED"),
        (401, None, False, "UNAUTHENTICATED"),
    ],
)
def test_google_error_envelopes_map_to_exceptions(fake, status, retry_after, retryable, text):
    fake.add_fault(vendor="google", status=status, retry_after=retry_after)
    with google(fake) as engine, pytest.raises(TranscriptionError) as caught:
        engine.transcribe(bursts(3, [(0.5, 1.5)]))
    assert isinstance(caught.value, EngineUnavailable) is retryable
    assert text in str(caught.value)
    if retry_after is not None:
        assert caught.value.retry_after == retry_after
    # the fault was single-use: the same call works now
    with google(fake) as engine:
        assert text_of(engine.transcribe(bursts(3, [(0.5, 1.5)]))) == "word1"


def test_google_network_failures_are_retryable(fake):
    with (
        google(fake, base_url="http://127.0.0.1:9") as engine,
        pytest.raises(EngineUnavailable, match="ConnectError"),
    ):
        engine.transcribe(bursts(3, [(0.5, 1.5)]))
    fake.add_fault(vendor="google", delay=5)
    with google(fake, timeout=0.3) as engine, pytest.raises(EngineUnavailable, match="timed out"):
        engine.transcribe(bursts(3, [(0.5, 1.5)]))


def test_google_long_audio_without_bucket_is_cut_at_pauses(fake):
    agent = [(5, 6), (20, 21.5), (40, 41), (52, 53.5), (58, 59.5), (75, 76), (100, 101.2)]
    caller = [(10, 12), (30, 31), (47, 49), (66, 67), (90, 92), (118, 119.5)]
    left, right = bursts(125, agent), bursts(125, caller)
    progress: list[float] = []
    with google(fake) as engine:
        result = engine.transcribe_stereo(left, right, progress=progress.append)

    one_word_per_burst(result.agent, agent)
    one_word_per_burst(result.caller, caller)
    sent = fake.requests("google")
    assert len(sent) >= 3
    assert {r["path"] for r in sent} == {"/v1/speech:recognize"}
    assert all(r["status"] == 200 and r["google"]["audio_seconds"] <= 55 for r in sent)
    assert all(r["google"]["audio_channels"] == 2 for r in sent)
    assert sum(r["google"]["audio_seconds"] for r in sent) == pytest.approx(125, abs=0.01)
    assert progress == sorted(progress)
    assert progress[-1] == 1.0


def test_google_long_audio_with_bucket_runs_a_long_running_operation(fake, tmp_path, rsa_key):
    fake.add_service_account(SA_EMAIL, pem(rsa_key)[1])
    fake.configure(operation_polls=3)
    agent, caller = [(3, 5), (61, 62), (85, 86.5)], [(10, 12), (70, 71)]
    sleeps: list[float] = []
    progress: list[float] = []
    with google(
        fake,
        api_key="",
        service_account_file=key_file(tmp_path, fake, rsa_key),
        bucket="fake-speech-bucket",
        sleep=sleeps.append,
    ) as engine:
        result = engine.transcribe_stereo(
            bursts(90, agent), bursts(90, caller), progress=progress.append
        )

    one_word_per_burst(result.agent, agent)
    one_word_per_burst(result.caller, caller)
    assert progress == [0.25, 0.5, 0.75, 1.0]
    assert sleeps == [2.0, 3.0, 4.5, 6.75]  # backs off 1.5x
    (upload,) = [r for r in fake.requests("gcs") if r["method"] == "POST"]
    name = upload["gcs"]["name"]
    assert upload["auth"] == "bearer"
    assert upload["query"]["uploadType"] == ["media"]
    assert name.startswith("ringadmin-stt/")
    assert name.endswith(".wav")
    (start,) = [r for r in fake.requests("google") if r["method"] == "POST"]
    assert start["path"] == "/v1/speech:longrunningrecognize"
    assert start["google"]["audio"] == "uri"
    assert start["google"]["uri"] == f"gs://fake-speech-bucket/{name}"
    assert start["google"]["config"]["audioChannelCount"] == 2
    polls = [r for r in fake.requests("google") if r["method"] == "GET"]
    assert len(polls) == 4
    assert all(r["status"] == 200 for r in polls)
    assert fake.objects() == []  # the recording does not stay in the bucket


@pytest.mark.parametrize(
    ("code", "retryable"), [(3, False), (14, True)], ids=["invalid-argument", "unavailable"]
)
def test_google_failed_operation(fake, code, retryable):
    account = fake.create_service_account()
    fake.fail_next_operation(code=code, message="Audio data is not decodable.")
    with (
        google(
            fake,
            api_key="",
            service_account_json=json.dumps(account),
            bucket="fake-speech-bucket",
            sleep=lambda _: None,
        ) as engine,
        pytest.raises(
            TranscriptionError, match=re.escape("Audio data is not decodable.")
        ) as caught,
    ):
        engine.transcribe(bursts(70, [(1, 2), (65, 66)]))
    assert isinstance(caught.value, EngineUnavailable) is retryable
    assert fake.objects() == []


def test_google_operation_that_never_finishes_gives_up_after_max_wait(fake):
    fake.configure(operation_polls=1000)
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with (
        google(
            fake,
            api_key="",
            service_account_json=json.dumps(fake.create_service_account()),
            bucket="fake-speech-bucket",
            max_wait=10,
            sleep=sleep,
            clock=lambda: now[0],
        ) as engine,
        pytest.raises(EngineUnavailable, match="not done after 10 s"),
    ):
        engine.transcribe(bursts(70, [(1, 2), (65, 66)]))
    assert now[0] == pytest.approx(9.5)  # 2 + 3 + 4.5: the next wait would pass the limit
    assert len([r for r in fake.requests("google") if r["method"] == "GET"]) == 3
    assert fake.objects() == []


def test_google_service_account_token_is_cached_refreshed_and_renewed_after_401(
    fake, tmp_path, rsa_key
):
    fake.add_service_account(SA_EMAIL, pem(rsa_key)[1])
    now = [1000.0]
    audio = bursts(3, [(0.5, 1.5)])
    with google(
        fake,
        api_key="",
        service_account_file=key_file(tmp_path, fake, rsa_key),
        clock=lambda: now[0],
    ) as engine:
        engine.transcribe(audio)
        engine.transcribe(audio)
        assert len(fake.requests("oauth")) == 1  # cached
        now[0] += 3600 - 299  # within five minutes of expiry
        engine.transcribe(audio)
        assert len(fake.requests("oauth")) == 2
        fake.expire_tokens()  # revoked early: the API answers 401 once
        assert text_of(engine.transcribe(audio)) == "word1"
        assert len(fake.requests("oauth")) == 3

    tokens = fake.requests("oauth")
    assert all(r["status"] == 200 and r["oauth"]["iss"] == SA_EMAIL for r in tokens)
    assert "https://www.googleapis.com/auth/cloud-platform" in tokens[0]["oauth"]["scope"]
    speech = fake.requests("google")
    assert [r["status"] for r in speech] == [200, 200, 200, 401, 200]
    assert {r["auth"] for r in speech} == {"bearer"}


def test_google_service_account_with_an_unknown_key_is_refused(fake, tmp_path, rsa_key):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    fake.add_service_account(SA_EMAIL, pem(other)[1])  # the key file holds a different key
    with (
        google(fake, api_key="", service_account_file=key_file(tmp_path, fake, rsa_key)) as engine,
        pytest.raises(
            TranscriptionError, match=re.escape("invalid_grant: Invalid JWT Signature.")
        ) as caught,
    ):
        engine.transcribe(bursts(3, [(0.5, 1.5)]))
    assert not isinstance(caught.value, EngineUnavailable)
    assert fake.requests("google") == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"api_key": ""}, "API key or a service-account key"),
        ({"bucket": "b"}, "bucket needs a service-account key"),
        ({"encoding": "FLAC"}, "encoding"),
        ({"model": "latest_long"}, "telephone model"),
        ({"api_key": "", "service_account_json": '{"type": "authorized_user"}'}, "service_account"),
    ],
)
def test_google_configuration_errors(fake, changes, message):
    with pytest.raises(EngineNotConfigured, match=message):
        google(fake, **changes)


# --- Deepgram -----------------------------------------------------------------------------------


def test_deepgram_stereo_is_one_multichannel_wav_request(fake):
    response = httpx.post(
        f"{fake.url}/_fake/script", json={"agent": AGENT_SCRIPT, "caller": CALLER_SCRIPT}
    )
    assert response.status_code == 200
    with deepgram(fake) as engine:
        result = engine.transcribe_stereo(bursts(8, AGENT_BURSTS), bursts(8, CALLER_BURSTS))

    assert [s.text for s in result.agent] == ["Thanks for calling.", "How can I help?"]
    assert text_of(result.caller) == CALLER_SCRIPT
    assert all(inside(w, AGENT_BURSTS) for w in words_of(result.agent))
    assert all(inside(w, CALLER_BURSTS) for w in words_of(result.caller))
    (sent,) = httpx.get(f"{fake.url}/_fake/requests").json()["requests"]
    assert sent["status"] == 200
    assert sent["auth"] == "token"
    assert sent["content_type"] == "audio/wav"
    assert sent["deepgram"]["params"] == {
        "model": "nova-2-phonecall",
        "multichannel": "true",
        "punctuate": "true",
        "smart_format": "true",
    }
    assert (sent["deepgram"]["audio_channels"], sent["deepgram"]["sample_rate"]) == (2, 8000)


def test_deepgram_groups_words_at_pauses(fake):
    agent = [(0.5, 1.0), (1.5, 2.0), (3.5, 4.0)]  # 0.5 s pause, then 1.5 s
    with deepgram(fake) as engine:
        segments = engine.transcribe(bursts(5, agent))
    assert [s.text for s in segments] == ["word1 word2", "word3"]
    assert segments[1].start == pytest.approx(3.5, abs=TOLERANCE)
    assert "multichannel" not in fake.requests("deepgram")[0]["deepgram"]["params"]


@pytest.mark.parametrize(
    ("fault", "retryable", "text"),
    [
        ({"status": 402}, False, "ASR_PAYMENT_REQUIRED"),
        ({"status": 403}, False, "INSUFFICIENT_PERMISSIONS"),
        ({"status": 429, "retry_after": 12}, True, "TOO_MANY_REQUESTS"),
        ({"status": 503}, True, "HTTP 503"),
    ],
)
def test_deepgram_error_envelopes_map_to_exceptions(fake, fault, retryable, text):
    fake.add_fault(vendor="deepgram", **fault)
    with deepgram(fake) as engine, pytest.raises(TranscriptionError) as caught:
        engine.transcribe_stereo(bursts(3, [(0.5, 1)]), bursts(3, [(1.5, 2)]))
    assert isinstance(caught.value, EngineUnavailable) is retryable
    assert text in str(caught.value)
    if "retry_after" in fault:
        assert caught.value.retry_after == fault["retry_after"]


def test_deepgram_bad_token_is_a_permanent_error(fake):
    with deepgram(fake, api_key="nope") as engine, pytest.raises(TranscriptionError) as caught:
        engine.transcribe(bursts(3, [(0.5, 1)]))
    assert not isinstance(caught.value, EngineUnavailable)
    assert "HTTP 401 INVALID_AUTH: Invalid credentials." in str(caught.value)


def test_fake_deepgram_refuses_audio_that_is_not_wav(fake):
    headers = {"Authorization": f"Token {fake.deepgram_key}", "Content-Type": "audio/wav"}
    response = httpx.post(
        f"{fake.url}/v1/listen",
        params={"model": "nova-2-phonecall"},
        content=mulaw.encode(bursts(1, [(0.2, 0.5)])),
        headers=headers,
    )
    assert response.status_code == 400
    body = response.json()
    assert body["err_code"] == "Bad Request"
    assert "corrupt or unsupported data" in body["err_msg"]
    assert body["request_id"]
    unknown = httpx.post(
        f"{fake.url}/v1/listen",
        params={"model": "nova-9"},
        content=wav_bytes(bursts(1, [(0.2, 0.5)])),
        headers=headers,
    )
    assert unknown.status_code == 400
    assert "No such model" in unknown.json()["err_msg"]


# --- OpenAI -------------------------------------------------------------------------------------


def test_openai_transcribes_each_channel_with_word_and_segment_times(fake):
    with openai(fake, prompt="RingAdmin, Visa") as engine:
        result = transcribe_stereo(engine, bursts(8, AGENT_BURSTS), bursts(8, CALLER_BURSTS))

    one_word_per_burst(result.agent, AGENT_BURSTS)
    one_word_per_burst(result.caller, CALLER_BURSTS)
    assert all(inside(s, AGENT_BURSTS) for s in result.agent)
    assert result.agent[0].confidence == pytest.approx(0.819, abs=0.001)  # exp(avg_logprob)
    sent = fake.requests("openai")
    assert len(sent) == 2
    for request in sent:
        assert request["status"] == 200
        assert request["auth"] == "bearer"
        assert request["openai"]["fields"] == {
            "model": ["whisper-1"],
            "response_format": ["verbose_json"],
            "timestamp_granularities[]": ["word", "segment"],
            "language": ["en"],
            "prompt": ["RingAdmin, Visa"],
        }
        assert request["openai"]["file"]["channels"] == 1
        assert request["openai"]["file"]["sample_rate"] == 8000


def test_openai_words_go_to_the_segment_they_fall_in(fake):
    fake.set_script(mono="Hello, this is Sam. Could you spell that?")
    with openai(fake) as engine:
        segments = engine.transcribe(bursts(6, [(0.5, 2.0), (3.0, 4.5)]))
    assert [s.text for s in segments] == ["Hello, this is Sam.", "Could you spell that?"]
    for segment in segments:
        assert [w.text for w in segment.words] == re.sub(r"[,.?]", "", segment.text).split()
        assert all(segment.start <= w.start and w.end <= segment.end for w in segment.words)


def test_openai_splits_channels_whose_wav_is_over_25_mb(fake):
    regions = [(10, 11), (1000, 1001.5), (1590, 1591), (1670, 1671)]
    audio = bursts(28 * 60, regions, noise=0)  # 28 minutes: a 26.9 MB WAV
    assert len(wav_bytes(audio)) > OPENAI_MAX_BYTES
    progress: list[float] = []
    with openai(fake) as engine:
        segments = engine.transcribe(audio, progress=progress.append)

    one_word_per_burst(segments, regions)
    sent = fake.requests("openai")
    assert len(sent) == 2
    assert all(r["status"] == 200 and r["bytes"] <= OPENAI_MAX_BYTES for r in sent)
    assert sum(r["openai"]["file"]["audio_seconds"] for r in sent) == pytest.approx(28 * 60)
    assert progress[-1] == 1.0


def test_fake_openai_refuses_bodies_over_25_mb(fake):
    response = httpx.post(
        f"{fake.url}/v1/audio/transcriptions",
        headers={"Authorization": f"Bearer {fake.openai_key}"},
        data={"model": "whisper-1"},
        files={"file": ("big.wav", b"\0" * MAX_FILE_BYTES, "audio/wav")},
    )
    assert response.status_code == 413
    assert response.json()["error"]["message"].startswith(
        f"Maximum content size limit ({OPENAI_MAX_BYTES}) exceeded"
    )


@pytest.mark.parametrize(
    ("data", "files", "message"),
    [
        ({"model": "whisper-1"}, None, "body -> file\n  field required"),
        ({}, {"file": ("a.wav", wav_bytes(bursts(1, [(0.2, 0.6)])), "audio/wav")}, "model"),
        (
            {"model": "whisper-1", "timestamp_granularities[]": "word"},
            {"file": ("a.wav", wav_bytes(bursts(1, [(0.2, 0.6)])), "audio/wav")},
            "requires response_format=verbose_json",
        ),
        (
            {"model": "whisper-1"},
            {"file": ("a.xyz", b"not audio", "application/octet-stream")},
            "Invalid file format",
        ),
    ],
    ids=["no-file", "no-model", "granularity-without-verbose-json", "bad-format"],
)
def test_fake_openai_validates_requests(fake, data, files, message):
    response = httpx.post(
        f"{fake.url}/v1/audio/transcriptions",
        headers={"Authorization": f"Bearer {fake.openai_key}"},
        data=data,
        files=files or {"unused": ("", b"")},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert message in error["message"]


@pytest.mark.parametrize(
    ("fault", "retryable", "text"),
    [
        ({"status": 429, "retry_after": 3}, True, "rate_limit_exceeded"),
        (
            {"status": 429, "code": "insufficient_quota", "message": "You exceeded your quota."},
            False,
            "insufficient_quota",
        ),
        ({"status": 500}, True, "HTTP 500"),
        ({"status": 503}, True, "overloaded"),
    ],
)
def test_openai_error_envelopes_map_to_exceptions(fake, fault, retryable, text):
    fake.add_fault(vendor="openai", **fault)
    with openai(fake) as engine, pytest.raises(TranscriptionError) as caught:
        engine.transcribe(bursts(3, [(0.5, 1)]))
    assert isinstance(caught.value, EngineUnavailable) is retryable
    assert text in str(caught.value)
    if "retry_after" in fault:
        assert caught.value.retry_after == fault["retry_after"]


def test_openai_bad_key_is_a_permanent_error(fake):
    with (
        openai(fake, api_key="sk-wrong-key") as engine,
        pytest.raises(TranscriptionError) as caught,
    ):
        engine.transcribe(bursts(3, [(0.5, 1)]))
    assert not isinstance(caught.value, EngineUnavailable)
    assert "HTTP 401 invalid_api_key: Incorrect API key provided" in str(caught.value)


def test_openai_does_not_send_silence(fake):
    with openai(fake) as engine:
        assert engine.transcribe(np.zeros(8000 * 5, dtype=np.int16)) == []
    assert fake.requests() == []


# --- the fake as a program ----------------------------------------------------------------------


def test_fake_runs_as_a_module():
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.doubles.fake_speech", "--port", "0"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            found = re.search(r"Listening on (http://\S+)", line)
            if found:
                break
        else:
            pytest.fail("the fake printed no address")
        response = httpx.get(f"{found.group(1)}/_fake/requests")
        assert response.status_code == 200
        assert response.json() == {"requests": []}
    finally:
        process.terminate()
        process.wait(timeout=10)
