"""The synthetic call-centre dialogue (``DIALOGUE``) spoken by espeak-ng, one voice for the
agent and another for the caller, and stereo calls: ``build_stereo_call`` lays utterances
out as a two-party call (agent left, caller right, taking turns) with the expected turns."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from streaming.audio.wav import wav_bytes

from .audio import load_audio, resample, speech_bounds, through_mulaw
from .common import AGENT, CALLER, SAMPLE_RATE, SpeechItem, SpeechSetError, run_tool

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
        run_tool(command, path.parent, f"speak with espeak-ng voice {voice}")
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
        """The call as ``streaming.tools.simulator.StereoAudio``, for
        ``SimulationConfig(audio=...)``."""
        from streaming.tools.simulator import StereoAudio  # here: keeps websockets optional

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
