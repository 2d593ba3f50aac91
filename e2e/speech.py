"""Speech for the page's microphone, generated with espeak-ng at session start (never
committed)."""

from __future__ import annotations

import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 48000


@dataclass(frozen=True)
class Phrase:
    """One spoken phrase: its text and its audio (48 kHz mono PCM16, silence trimmed)."""

    text: str
    pcm: bytes

    @property
    def duration(self) -> float:
        return len(self.pcm) / 2 / RATE


@dataclass(frozen=True)
class SpeechClip:
    """The phrases a test can say, by index, each played into the page's microphone on
    demand (see Console). `path` holds them back to back, to listen to."""

    path: Path
    segments: tuple[Phrase, ...]

    @property
    def phrase(self) -> str:
        return self.segments[0].text


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


def write_clip(folder: Path, name: str, phrases: str | list[str]) -> SpeechClip:
    """Synthesize `phrases` and write them to `<folder>/<name>.wav`, 0.5 s apart."""
    phrases = [phrases] if isinstance(phrases, str) else phrases
    segments = tuple(Phrase(text, synthesize(text).tobytes()) for text in phrases)
    gap = np.zeros(RATE // 2, dtype=np.int16).tobytes()
    path = folder / f"{name}.wav"
    _write_wav(path, gap + b"".join(seg.pcm + gap for seg in segments))
    return SpeechClip(path=path, segments=segments)


def write_silence(path: Path, *, seconds: float) -> None:
    _write_wav(path, np.zeros(int(seconds * RATE), dtype=np.int16).tobytes())


def _write_wav(path: Path, pcm: bytes) -> None:
    """48 kHz mono PCM16."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm)
