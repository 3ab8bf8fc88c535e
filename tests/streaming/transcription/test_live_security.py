"""The live transcription link between an ingest and its workers: each instance reaches only its
own workers, both ends prove a shared key before any audio or transcript moves, TLS when a
worker is on another host, no plain TCP off the host, and hostile bytes crash neither side."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import logging
import os
import shutil
import socket
import stat
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streaming.audio.pipeline import CallPipeline, PipelineConfig
from streaming.audio.protocol import Media
from streaming.transcription import live_protocol as wire
from streaming.transcription.engines.base import EngineInfo, Segment
from streaming.transcription.live_link import CallFeed, LinkSettings, LiveTranscriptionLink
from streaming.transcription.live_protocol import Endpoint, endpoint_parse
from streaming.transcription.live_worker import LiveWorker, WorkerConfig

KEY_A = b"a" * 16 + os.urandom(16).hex().encode()
KEY_B = b"b" * 16 + os.urandom(16).hex().encode()


class EchoEngine:
    """Says what it heard: the number of samples of each utterance."""

    info = EngineInfo("stand-in", "1")

    def __init__(self) -> None:
        self.calls = 0

    def transcribe_utterance(self, audio_16k: np.ndarray) -> list[Segment]:
        self.calls += 1
        return [Segment(0.0, len(audio_16k) / 16000, f"heard {len(audio_16k)} samples")]


class RecordingWorker(LiveWorker):
    """A real worker (real handshake, framing, segmenter) that notes which calls reached it."""

    def __init__(self, key: bytes) -> None:
        super().__init__(WorkerConfig(), key=key, engine=EchoEngine())
        self.calls_opened: list[str] = []
        self.samples = 0

    def _open(self, data, writer):
        self.calls_opened.append(data["call"])
        return super()._open(data, writer)

    def _audio(self, channel, start, samples):
        self.samples += len(samples)
        super()._audio(channel, start, samples)


async def until(condition, *, timeout: float = 10.0, what: str = "") -> None:
    """Wait for a condition the event loop will make true (background connects, replies)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def speech_media(perspective: str, sequence: int) -> Media:
    """20 ms of a loud 300 Hz tone in mu-law: enough for the link to send (not to be speech)."""
    from streaming.audio import mulaw

    t = np.arange(160) + 160 * sequence
    tone = (8000 * np.sin(2 * np.pi * 300 * t / 8000)).astype(np.int16)
    return Media(
        perspective=perspective, sequence=sequence, payload=mulaw.encode(tone), sent_at=None
    )


def stream(pipeline: CallPipeline, frames: range) -> None:
    feed = pipeline.open_socket()
    for n in frames:
        for leg in ("Participant", "Conference"):
            pipeline.media(feed, speech_media(leg, n), 0.0)


async def start_worker(worker: LiveWorker, endpoint: Endpoint, tls=None):
    decoder = asyncio.create_task(worker.decode_forever())
    server, address = await wire.listen(endpoint, worker.handle, tls=tls)
    return server, endpoint_parse(address, listen=True), decoder


@pytest.fixture
def sockets():
    """A short directory for Unix sockets (a socket path holds 107 bytes; tmp_path can be
    longer), removed with what is in it."""
    directory = tempfile.mkdtemp(prefix="ralt-", dir="/tmp")
    yield Path(directory)
    shutil.rmtree(directory, ignore_errors=True)


# --- two instances on one host ------------------------------------------------------------------


async def test_two_instances_on_one_host_do_not_cross(tmp_path, sockets, caplog) -> None:
    """Instance B's ingest pointed at instance A's worker (as the fixed port 8710 did) is
    refused before any audio leaves, and counts it; each worker hears only its own calls."""
    worker_a, worker_b = RecordingWorker(KEY_A), RecordingWorker(KEY_B)
    server_a, endpoint_a, decoder_a = await start_worker(
        worker_a, Endpoint("unix", path=str(sockets / "a.sock"))
    )
    server_b, endpoint_b, decoder_b = await start_worker(
        worker_b, Endpoint("unix", path=str(sockets / "b.sock"))
    )
    results: dict[str, list] = {"a": [], "b": [], "b-misdirected": []}
    link_a = LiveTranscriptionLink(
        LinkSettings((endpoint_a,), KEY_A), on_result=lambda *r: results["a"].append(r)
    )
    link_b = LiveTranscriptionLink(
        LinkSettings((endpoint_b,), KEY_B), on_result=lambda *r: results["b"].append(r)
    )
    misdirected = LiveTranscriptionLink(
        LinkSettings((endpoint_a,), KEY_B), on_result=lambda *r: results["b-misdirected"].append(r)
    )
    pipelines = {}
    for name, link in (("a", link_a), ("b", link_b), ("b-misdirected", misdirected)):
        pipelines[name] = CallPipeline(path=tmp_path / f"{name}.wav", config=PipelineConfig())
        link.attach((f"call-{name}", "1"), pipelines[name])
    with caplog.at_level(logging.WARNING, logger="streaming.transcription.live"):
        await until(lambda: link_a.workers[0].usable() and link_b.workers[0].usable(), what="A, B")
        await until(lambda: misdirected.refused >= 1, what="the refusal")
        for name, link in (("a", link_a), ("b", link_b), ("b-misdirected", misdirected)):
            stream(pipelines[name], range(1, 51))
            link.pump()
            link.detach((f"call-{name}", "1"))
        await until(lambda: worker_a.samples >= 2 * 50 * 160 and worker_b.samples >= 2 * 50 * 160)
        await until(lambda: not link_a.feeds and not link_b.feeds, what="both calls' close")
    assert worker_a.calls_opened == ["call-a", "call-a"]  # its two channels, nothing of B's
    assert worker_b.calls_opened == ["call-b", "call-b"]
    assert worker_a.refused >= 1
    assert worker_b.refused == 0
    assert not results["b-misdirected"]
    assert misdirected.stats(("call-b-misdirected", "1"))["dropped_seconds"] >= 0.9
    assert "refused" in caplog.text
    assert "LIVE_TRANSCRIPTION_KEY" in caplog.text
    for pipeline in pipelines.values():
        pipeline.close()
    for server, decoder in ((server_a, decoder_a), (server_b, decoder_b)):
        server.close()
        decoder.cancel()


def test_serve_gives_each_instance_its_own_socket_and_key(settings, sockets) -> None:
    from ringadmin.management.commands.serve import Command

    var_dir = sockets
    settings.VAR_DIR = var_dir
    settings.LIVE_TRANSCRIPTION = True
    settings.LIVE_TRANSCRIPTION_WORKERS = []
    settings.LIVE_TRANSCRIPTION_KEY = ""
    (worker_1,), env_1 = Command()._live_transcription("python", 8000)
    (_worker_2,), env_2 = Command()._live_transcription("python", 8001)
    assert env_1["LIVE_TRANSCRIPTION_WORKERS"] == f"unix:{var_dir}/run/live-transcription-8000.sock"
    assert env_2["LIVE_TRANSCRIPTION_WORKERS"].endswith("live-transcription-8001.sock")
    assert env_1["LIVE_TRANSCRIPTION_KEY"] != env_2["LIVE_TRANSCRIPTION_KEY"]
    assert len(env_1["LIVE_TRANSCRIPTION_KEY"]) >= wire.MIN_KEY_LENGTH
    # the worker listens where the ingest looks, and gets the key in its environment, not argv
    assert worker_1.argv[worker_1.argv.index("--listen") + 1] == env_1["LIVE_TRANSCRIPTION_WORKERS"]
    assert worker_1.env == {"LIVE_TRANSCRIPTION_KEY": env_1["LIVE_TRANSCRIPTION_KEY"]}
    assert env_1["LIVE_TRANSCRIPTION_KEY"] not in " ".join(worker_1.argv)
    # a VAR_DIR too deep for a socket path: a free loopback port instead
    settings.VAR_DIR = var_dir / ("deep" * 30)
    (_worker_3,), env_3 = Command()._live_transcription("python", 8000)
    assert env_3["LIVE_TRANSCRIPTION_WORKERS"].startswith("tcp://127.0.0.1:")


def test_serve_and_the_ingest_refuse_plain_tcp_off_the_host(settings, capsys) -> None:
    from ringadmin.management.commands.serve import Command
    from streaming.ingest.config import live_transcription_settings

    settings.LIVE_TRANSCRIPTION = True
    settings.LIVE_TRANSCRIPTION_WORKERS = ["10.1.2.3:8710", "tcp+tls://10.1.2.3:8711"]
    settings.LIVE_TRANSCRIPTION_KEY = "k" * 40
    command = Command()
    command.stderr = SimpleNamespace(write=lambda text: print(text))
    children, env = command._live_transcription("python", 8000)
    assert children == []  # the TLS one is on another host: not started here
    assert env["LIVE_TRANSCRIPTION_WORKERS"] == "tcp+tls://10.1.2.3:8711"
    assert "unencrypted" in capsys.readouterr().out
    link = live_transcription_settings()
    assert link.endpoints == (Endpoint("tls", host="10.1.2.3", port=8711),)
    settings.LIVE_TRANSCRIPTION_WORKERS = ["10.1.2.3:8710"]  # nothing usable is left
    assert command._live_transcription("python", 8000) == ([], {"LIVE_TRANSCRIPTION": "false"})
    assert live_transcription_settings() is None
    settings.LIVE_TRANSCRIPTION_KEY = "short"
    assert live_transcription_settings() is None  # a guessable key: off, and logged


@pytest.mark.parametrize(
    "text",
    [
        "10.0.0.5:8710",
        "tcp://192.168.1.10:8710",
        "worker.example.com:8710",
        "tcp://[2001:db8::1]:1",
    ],
)
def test_plain_tcp_to_another_host_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="unencrypted"):
        endpoint_parse(text)


def test_endpoints_parse() -> None:
    assert endpoint_parse("127.0.0.1:8710") == Endpoint("tcp", host="127.0.0.1", port=8710)
    assert endpoint_parse("tcp://[::1]:8710") == Endpoint("tcp", host="::1", port=8710)
    assert endpoint_parse("tcp+tls://gpu-1.internal:8710") == Endpoint(
        "tls", host="gpu-1.internal", port=8710
    )
    assert endpoint_parse("unix:/run/ringadmin/lt.sock") == Endpoint(
        "unix", path="/run/ringadmin/lt.sock"
    )
    assert str(endpoint_parse("tcp://[::1]:8710")) == "tcp://[::1]:8710"
    for bad in ("", "unix:", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "http://127.0.0.1:1"):
        with pytest.raises(ValueError, match=r"expected|needs a path|use unix"):
            endpoint_parse(bad)
    assert endpoint_parse("tcp://127.0.0.1:0", listen=True).port == 0
    with pytest.raises(ValueError, match="unencrypted"):
        endpoint_parse("tcp://0.0.0.0:8710", listen=True)


def test_the_worker_refuses_to_listen_in_clear_off_loopback_or_without_a_key(
    monkeypatch, capsys
) -> None:
    from streaming.transcription.live_worker import main

    monkeypatch.setenv("LIVE_TRANSCRIPTION_KEY", "k" * 40)
    with pytest.raises(SystemExit):
        main(["--listen", "tcp://0.0.0.0:8710"])
    assert "unencrypted" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--listen", "tcp+tls://0.0.0.0:8710"])
    assert "LIVE_TRANSCRIPTION_TLS_CERT" in capsys.readouterr().err
    monkeypatch.delenv("LIVE_TRANSCRIPTION_KEY")
    with pytest.raises(SystemExit):
        main(["--listen", "tcp://127.0.0.1:8710"])
    assert "LIVE_TRANSCRIPTION_KEY" in capsys.readouterr().err


# --- who may talk ---------------------------------------------------------------------------------


async def serving_a_call(tmp_path, *, key: bytes = KEY_A):
    """A worker transcribing a call for its rightful ingest: (worker, server, link, results)."""
    worker = RecordingWorker(key)
    server, endpoint, decoder = await start_worker(
        worker, Endpoint("tcp", host="127.0.0.1", port=0)
    )
    results: list = []
    link = LiveTranscriptionLink(
        LinkSettings((endpoint,), key), on_result=lambda *r: results.append(r)
    )
    pipeline = CallPipeline(path=tmp_path / "call.wav", config=PipelineConfig())
    link.attach(("call-1", "1"), pipeline)
    await until(lambda: link.workers[0].usable(), what="the link")
    stream(pipeline, range(1, 31))
    link.pump()
    await until(lambda: worker.samples >= 2 * 30 * 160, what="audio at the worker")
    return worker, server, endpoint, decoder, link, pipeline, results


async def test_an_unauthenticated_client_is_refused_and_reads_nothing(tmp_path) -> None:
    worker, server, endpoint, decoder, link, pipeline, _ = await serving_a_call(tmp_path)
    # a stranger that speaks the framing but skips the handshake
    reader, writer = await asyncio.open_connection(endpoint.host, endpoint.port)
    hello = await reader.readexactly(len(wire.MAGIC) + wire.NONCE_SIZE)
    assert hello.startswith(wire.MAGIC)  # a nonce: nothing about any call
    writer.write(wire.encode_json(wire.OPEN, {"stream": 1, "speaker": "agent", "start_sample": 0}))
    writer.write(wire.encode_audio(1, 0, np.zeros(64, dtype=np.int16)))
    writer.write(b"\0" * 64)
    rest = await asyncio.wait_for(reader.read(), 10)  # until the worker closes it
    assert rest == b""
    assert worker.refused == 1
    # the rightful call goes on, and the stranger's frames opened nothing
    link.detach(("call-1", "1"))
    await until(lambda: not link.feeds, what="the call's close")
    assert worker.calls_opened == ["call-1", "call-1"]
    pipeline.close()
    server.close()
    decoder.cancel()


async def test_a_wrong_key_is_refused_by_the_worker_and_by_the_ingest(tmp_path) -> None:
    worker, server, endpoint, decoder, _link, pipeline, results = await serving_a_call(tmp_path)
    wrong = LiveTranscriptionLink(
        LinkSettings((endpoint,), KEY_B), on_result=lambda *r: results.append(r)
    )
    other = CallPipeline(path=tmp_path / "other.wav", config=PipelineConfig())
    wrong.attach(("intruder", "1"), other)
    await until(lambda: wrong.refused >= 1 and worker.refused >= 1, what="both refusals")
    stream(other, range(1, 11))
    wrong.pump()
    assert "intruder" not in worker.calls_opened
    assert wrong.stats(("intruder", "1"))["dropped_seconds"] > 0
    other.close()
    pipeline.close()
    server.close()
    decoder.cancel()


async def test_a_stranger_listening_where_the_worker_should_be_gets_no_audio_and_injects_nothing(
    tmp_path,
) -> None:
    """Whatever holds the port (another instance's worker, or anything else) without the key:
    the ingest sends it nothing, and its "transcript lines" never reach a call."""
    received = bytearray()
    done = asyncio.Event()

    async def impostor(reader, writer) -> None:
        writer.write(wire.MAGIC + b"\1" * wire.NONCE_SIZE)  # a worker's hello
        line = {
            "stream": 1,
            "utterance": 1,
            "text": "your card number please",
            "start": 0.0,
            "end": 1.0,
            "is_final": True,
        }
        writer.write(b"\0" * wire.MAC_SIZE)  # a proof it cannot make
        for stream_id in range(1, 5):
            writer.write(wire.encode_json(wire.RESULT, {**line, "stream": stream_id}))
        try:
            while chunk := await reader.read(65536):
                received.extend(chunk)
        finally:
            done.set()

    server = await asyncio.start_server(impostor, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    results: list = []
    link = LiveTranscriptionLink(
        LinkSettings((Endpoint("tcp", host="127.0.0.1", port=port),), KEY_A),
        on_result=lambda *r: results.append(r),
    )
    pipeline = CallPipeline(path=tmp_path / "c.wav", config=PipelineConfig())
    link.attach(("call-1", "1"), pipeline)
    await until(lambda: link.refused >= 1, what="the refusal")
    stream(pipeline, range(1, 26))
    link.pump()
    await asyncio.wait_for(done.wait(), 10)
    # all it got is the ingest's half of the handshake: a nonce and a proof bound to it
    assert len(received) == len(wire.MAGIC) + wire.NONCE_SIZE + wire.MAC_SIZE
    assert results == []
    pipeline.close()
    server.close()


# --- across hosts: TLS ----------------------------------------------------------------------------


def self_signed(tmp_path: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "live transcription worker")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "worker.pem", tmp_path / "worker.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_tls_round_trip_and_an_untrusted_certificate_is_refused(tmp_path) -> None:
    cert, key = self_signed(tmp_path)
    worker = RecordingWorker(KEY_A)
    server, endpoint, decoder = await start_worker(
        worker,
        Endpoint("tls", host="127.0.0.1", port=0),
        tls=wire.server_tls_context(str(cert), str(key)),
    )
    results: list = []
    link = LiveTranscriptionLink(
        LinkSettings((endpoint,), KEY_A, tls_ca=str(cert)), on_result=lambda *r: results.append(r)
    )
    pipeline = CallPipeline(path=tmp_path / "tls.wav", config=PipelineConfig())
    link.attach(("call-tls", "1"), pipeline)
    await until(lambda: link.workers[0].usable(), what="the TLS link")
    assert link.workers[0].writer.get_extra_info("ssl_object").version() in ("TLSv1.2", "TLSv1.3")
    stream(pipeline, range(1, 41))
    link.pump()
    link.detach(("call-tls", "1"))
    await until(lambda: not link.feeds, what="the call's close over TLS")
    assert worker.calls_opened == ["call-tls", "call-tls"]
    assert worker.samples >= 2 * 40 * 160
    # a worker whose certificate this ingest does not trust is refused, and counted
    untrusting = LiveTranscriptionLink(LinkSettings((endpoint,), KEY_A), on_result=lambda *r: None)
    other = CallPipeline(path=tmp_path / "other.wav", config=PipelineConfig())
    untrusting.attach(("call-x", "1"), other)
    await until(lambda: untrusting.refused >= 1, what="the certificate refusal")
    assert "call-x" not in worker.calls_opened
    other.close()
    pipeline.close()
    server.close()
    decoder.cancel()


async def test_results_come_back_to_the_call_over_the_authenticated_link(tmp_path) -> None:
    """With speech, the stand-in engine's finals reach the call that sent the audio."""
    from streaming.tools.simulator import load_wav
    from tests.streaming.transcription.conftest import FIXTURES

    _worker, server, _endpoint, decoder, link, pipeline, results = await serving_a_call(tmp_path)
    audio = load_wav(FIXTURES / "live_dialogue_8k.wav").left
    channel = next(iter(link.feeds.values())).streams["Participant"]
    connection = link.workers[0]
    connection.send(wire.encode_audio(channel, 30 * 160, audio[: 8000 * 9]), droppable=False)
    link.detach(("call-1", "1"))
    await until(lambda: not link.feeds, timeout=60, what="the finals")
    finals = [r for r in results if r[2]["is_final"]]
    assert finals
    assert all(r[0] == ("call-1", "1") and r[1] == "agent" for r in finals)
    assert all(r[2]["text"].startswith("heard ") for r in finals)
    pipeline.close()
    server.close()
    decoder.cancel()


# --- the Unix socket ------------------------------------------------------------------------------


async def test_the_unix_socket_is_private_and_a_stale_one_is_replaced(sockets) -> None:
    path = sockets / "worker.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()  # a file nobody listens on, as a crash leaves
    worker = RecordingWorker(KEY_A)
    server, _endpoint, decoder = await start_worker(worker, Endpoint("unix", path=str(path)))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(OSError, match="another live transcription worker"):
        wire.unix_socket_bind(path)
    server.close()
    await server.wait_closed()
    decoder.cancel()
    wire.unix_socket_remove(str(path))
    path.write_text("not a socket")
    with pytest.raises(OSError, match="not a socket"):
        wire.unix_socket_bind(path)
    path.unlink()


# --- hostile bytes --------------------------------------------------------------------------------


class MemoryWriter:
    """A StreamWriter stand-in that keeps what is written and can answer it."""

    def __init__(self, on_write=None) -> None:
        self.data = bytearray()
        self.closed = False
        self.on_write = on_write
        self.transport = SimpleNamespace(get_write_buffer_size=lambda: len(self.data))

    def write(self, data: bytes) -> None:
        self.data.extend(data)
        if self.on_write is not None:
            self.on_write(bytes(data))

    async def drain(self) -> None:
        return None

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name, default=None):
        return ("hypothesis", 0) if name == "peername" else default


def frame(kind: int, body: bytes) -> bytes:
    return wire.HEADER.pack(len(body) + 1, kind) + body


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
open_like = st.fixed_dictionaries(
    {"stream": st.integers(-2, 2**33), "speaker": st.sampled_from(["agent", "caller", "x", 1])},
    optional={"start_sample": st.integers(-5, 2**70) | st.floats(), "call": json_values},
).map(lambda d: frame(wire.OPEN, json.dumps(d).encode()))
audio_like = st.builds(
    lambda stream_id, start, body: frame(
        wire.AUDIO, wire.AUDIO_HEADER.pack(stream_id, start) + body
    ),
    st.integers(0, 3),
    st.integers(0, 2**64 - 1),
    st.binary(max_size=400),
)
end_like = st.integers(0, 2**32 - 1).map(lambda s: frame(wire.END, wire.STREAM.pack(s)))
header_like = st.builds(wire.HEADER.pack, st.integers(0, 2**32 - 1), st.integers(0, 255))
to_worker = st.lists(
    st.one_of(
        open_like,
        audio_like,
        end_like,
        header_like,
        st.binary(max_size=64),
        json_values.map(lambda v: frame(wire.OPEN, json.dumps(v).encode())),
    ),
    max_size=12,
).map(b"".join)


async def run_worker_with(data: bytes, *, authenticate: bool) -> LiveWorker:
    worker = LiveWorker(WorkerConfig(), key=KEY_A, engine=EchoEngine())
    reader = asyncio.StreamReader()

    def answer(written: bytes) -> None:
        if written.startswith(wire.MAGIC) and len(written) == len(wire.MAGIC) + wire.NONCE_SIZE:
            nonce = written[len(wire.MAGIC) :]
            mine = b"\2" * wire.NONCE_SIZE
            if authenticate:
                reader.feed_data(wire.MAGIC + mine + wire._mac(KEY_A, b"ingest", nonce, mine))
            reader.feed_data(data)
            reader.feed_eof()

    writer = MemoryWriter(on_write=answer)
    await asyncio.wait_for(worker.handle(reader, writer), 10)
    assert writer.closed
    assert worker.streams_open == 0  # every channel it opened was closed with the connection
    if not authenticate:
        assert worker.refused == 1 or not data  # nothing read past the handshake
    return worker


@given(data=to_worker, authenticate=st.booleans())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_hostile_bytes_never_crash_the_worker(data: bytes, authenticate: bool) -> None:
    worker = asyncio.run(run_worker_with(data, authenticate=authenticate))
    if not authenticate:
        assert worker.streams_open == 0
        assert worker._jobs.empty()


result_like = st.fixed_dictionaries(
    {},
    optional={
        "stream": st.sampled_from([1, 2, 0, -1, True, "1", 1.0]),
        "utterance": st.integers(-2, 2**40) | json_values,
        "text": st.text(max_size=30) | json_values,
        "start": st.floats(allow_nan=True) | json_values,
        "end": st.floats(allow_nan=True) | json_values,
        "is_final": st.booleans() | json_values,
        "words": st.lists(json_values, max_size=3) | json_values,
        "closed": json_values,
    },
).map(lambda d: frame(wire.RESULT, json.dumps(d).encode()))
to_ingest = st.lists(
    st.one_of(
        result_like,
        header_like,
        st.binary(max_size=64),
        json_values.map(lambda v: frame(wire.RESULT, json.dumps(v).encode())),
    ),
    max_size=12,
).map(b"".join)


@given(data=to_ingest)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_hostile_replies_never_crash_the_ingest_and_only_checked_lines_pass(data: bytes) -> None:
    async def scenario() -> list:
        delivered: list = []
        link = LiveTranscriptionLink(
            LinkSettings((Endpoint("tcp", host="127.0.0.1", port=9),), KEY_A),
            on_result=lambda *r: delivered.append(r),
        )
        connection = link.workers[0]
        feed = CallFeed(key=("call-1", "1"), tap=SimpleNamespace(dropped=0), worker=connection)
        link.feeds[feed.key] = feed
        feed.streams["Participant"] = 1
        feed.open_streams = 1
        link._streams[1] = (feed, "agent")
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        await asyncio.wait_for(connection._read(reader, MemoryWriter()), 10)
        return delivered

    for key, speaker, line in asyncio.run(scenario()):
        assert (key, speaker) == (("call-1", "1"), "agent")
        assert set(line) == {"stream", "utterance", "text", "start", "end", "is_final", "words"}
        assert isinstance(line["text"], str)
        assert isinstance(line["is_final"], bool)
        assert 0 <= line["start"] <= line["end"] < float("inf")


@given(json_values)
@settings(max_examples=300)
def test_result_and_open_parsers_take_any_json(value) -> None:
    body = json.dumps(value).encode()
    for parse in (wire.result_parse, wire.open_parse):
        try:
            parsed = parse(body)
        except wire.ProtocolError:
            continue
        assert isinstance(parsed, dict)
        assert type(parsed["stream"]) is int


@given(st.binary(max_size=200))
@settings(max_examples=300)
def test_read_message_bounds_every_length_before_reading(data: bytes) -> None:
    async def read_all() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        while True:
            try:
                message = await wire.read_message(reader, accept=wire.TO_WORKER)
            except wire.ProtocolError:
                return
            if message is None:
                return
            kind, body = message
            assert kind in wire.TO_WORKER
            assert len(body) <= wire.MAX_BODY[kind]

    asyncio.run(read_all())
