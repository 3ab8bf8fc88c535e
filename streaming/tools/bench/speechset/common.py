"""What every part of the speech sets shares: the rate, the speakers, the error, the item, and
running an outside tool (a registry client, espeak-ng) with a clear error when it fails."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np

SAMPLE_RATE = 8000
AGENT, CALLER = "agent", "caller"
DEFAULT_CACHE = Path("var") / "speechset"


class SpeechSetError(RuntimeError):
    """Speech data could not be obtained (download, extraction, checksum or synthesis)."""


class SpeechItem(NamedTuple):
    name: str
    samples: np.ndarray  # int16, 8 kHz mono, mu-law decoded
    transcript: str


def run_tool(command: list[str], cwd: Path, what: str) -> None:
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
