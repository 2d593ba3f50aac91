"""Speech WAVs for the fake microphone, generated with espeak-ng (never committed)."""

from __future__ import annotations

import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 48000


@dataclass(frozen=True)
class SpeechClip:
    """A looping WAV: `lead` s of silence, the phrase, then `tail` s of silence."""

    path: Path
    phrase: str
    lead: float
    speech: float
    tail: float

    @property
    def duration(self) -> float:
        return self.lead + self.speech + self.tail

    @property
    def speech_start(self) -> float:
        return self.lead

    @property
    def speech_end(self) -> float:
        return self.lead + self.speech


def synthesize(phrase: str, *, rate: int = RATE) -> np.ndarray:
    """espeak-ng `-v en-us` audio of `phrase` as int16 at `rate`, silence trimmed."""
    raw = subprocess.run(
        ["espeak-ng", "-v", "en-us", "--stdout", "--", phrase],
        check=True,
        capture_output=True,
    ).stdout
    pcm = np.frombuffer(raw[44:], dtype=np.int16).astype(np.float64)
    src_rate = 22050
    t_out = np.arange(int(len(pcm) * rate / src_rate)) / rate
    out = np.interp(t_out, np.arange(len(pcm)) / src_rate, pcm)
    voiced = np.nonzero(np.abs(out) > 300)[0]
    if len(voiced):
        out = out[max(0, voiced[0] - rate // 100) : voiced[-1] + rate // 100]
    return out.astype(np.int16)


def write_clip(
    folder: Path, name: str, phrase: str, *, lead: float = 1.0, tail: float = 2.0
) -> SpeechClip:
    """Write `<folder>/<name>.wav` (48 kHz mono PCM16) and describe its timeline."""
    speech = synthesize(phrase)
    silence = np.zeros(int(lead * RATE), dtype=np.int16)
    after = np.zeros(int(tail * RATE), dtype=np.int16)
    path = folder / f"{name}.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(np.concatenate([silence, speech, after]).tobytes())
    return SpeechClip(path=path, phrase=phrase, lead=lead, speech=len(speech) / RATE, tail=tail)
