"""Speech WAVs for the fake microphone, generated with espeak-ng (never committed)."""

from __future__ import annotations

import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 48000


@dataclass(frozen=True)
class Segment:
    phrase: str
    start: float
    end: float


@dataclass(frozen=True)
class SpeechClip:
    """A looping WAV: silence, then each phrase followed by a gap, then a tail of silence."""

    path: Path
    segments: tuple[Segment, ...]
    duration: float

    @property
    def phrase(self) -> str:
        return self.segments[0].phrase

    def silence_before(self, segment: int) -> float:
        """Seconds of silence between the previous phrase (looping) and `segment`."""
        seg = self.segments[segment]
        if segment == 0:
            return seg.start + (self.duration - self.segments[-1].end)
        return seg.start - self.segments[segment - 1].end

    @property
    def longest_gap(self) -> float:
        """The longest silence between two phrases (0 for one phrase)."""
        gaps = [b.start - a.end for a, b in zip(self.segments, self.segments[1:], strict=False)]
        return max(gaps, default=0.0)


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
    folder: Path,
    name: str,
    phrases: str | list[str],
    *,
    lead: float = 0.5,
    gap: float = 0.8,
    tail: float | None = None,
) -> SpeechClip:
    """Write `<folder>/<name>.wav` (48 kHz mono PCM16) and describe its timeline.

    The default `tail` makes the silence before the first phrase the clip's longest
    (1 s), which is how the page tells where the clip starts; a clip of one phrase needs
    no such mark, and a shorter loop (0.5 s) is a shorter wait for each turn."""
    phrases = [phrases] if isinstance(phrases, str) else phrases
    if tail is None:
        tail = 0.5 if len(phrases) == 1 else 1.0
    parts = [np.zeros(int(lead * RATE), dtype=np.int16)]
    segments = []
    t = lead
    for i, phrase in enumerate(phrases):
        speech = synthesize(phrase)
        segments.append(Segment(phrase, t, t + len(speech) / RATE))
        parts.append(speech)
        t += len(speech) / RATE
        pause = tail if i == len(phrases) - 1 else gap
        parts.append(np.zeros(int(pause * RATE), dtype=np.int16))
        t += pause
    path = folder / f"{name}.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(np.concatenate(parts).tobytes())
    return SpeechClip(path=path, segments=tuple(segments), duration=t)
