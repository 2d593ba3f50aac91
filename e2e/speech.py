"""Speech for the page's microphone, generated with espeak-ng at session start (never
committed)."""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from headless.speech import RATE, synthesize

__all__ = ["RATE", "Phrase", "SpeechClip", "synthesize", "write_clip", "write_silence"]


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
