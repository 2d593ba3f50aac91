"""Audio levels and onsets: when the agent's track became audible, on the client's clock."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import numpy as np

# -40 dBFS over a 10 ms frame: espeak-ng speech sits far above it (-20 dBFS and louder),
# WebRTC's comfort noise and a silent track far below
ONSET_LEVEL = 0.01


def rms(pcm: bytes | memoryview | np.ndarray) -> float:
    """RMS level of int16 PCM as a fraction of full scale (0.0 to 1.0)."""
    samples = pcm if isinstance(pcm, np.ndarray) else np.frombuffer(pcm, dtype=np.int16)
    if samples.size == 0:
        return 0.0
    x = samples.astype(np.float64) / 32768.0
    return float(np.sqrt(np.mean(x * x)))


def onset_index(levels: list[float], threshold: float = ONSET_LEVEL, *, run: int = 2) -> int | None:
    """Index of the first of `run` consecutive levels above `threshold` (a lone click is
    not speech), or None."""
    streak = 0
    for i, level in enumerate(levels):
        streak = streak + 1 if level > threshold else 0
        if streak >= run:
            return i - run + 1
    return None


def window_levels(pcm: np.ndarray, window: int) -> list[float]:
    """RMS levels (fractions of full scale) of consecutive `window`-sample windows of
    int16 `pcm`, in one vectorised pass; a partial last window is dropped."""
    n = len(pcm) // window
    if n == 0:
        return []
    x = pcm[: n * window].reshape(n, window).astype(np.float32) / 32768.0
    return [float(v) for v in np.sqrt(np.mean(x * x, axis=1))]


def frame_levels(pcm: np.ndarray, rate: int, frame_ms: int = 10) -> list[float]:
    """RMS levels of consecutive `frame_ms` frames of `pcm` (int16 at `rate`)."""
    return window_levels(pcm, rate * frame_ms // 1000)


@dataclass
class LevelLog:
    """(client time, level) of every frame received from a track, and onset queries."""

    threshold: float = ONSET_LEVEL
    max_points: int = 60_000  # 10 minutes of 10 ms frames
    times: list[float] = field(default_factory=list)
    levels: list[float] = field(default_factory=list)

    def add(self, at: float, level: float) -> None:
        self.times.append(at)
        self.levels.append(level)
        if len(self.times) > self.max_points:
            drop = len(self.times) - self.max_points
            del self.times[:drop], self.levels[:drop]

    def onset_after(self, since: float) -> float | None:
        """Client time of the first audible frame received at or after `since`."""
        start = bisect.bisect_left(self.times, since)
        if start >= len(self.times):
            return None
        i = onset_index(self.levels[start:], self.threshold)
        return None if i is None else self.times[start + i]

    def quiet_since(self, since: float, quiet: float) -> float | None:
        """Client time at which the track went quiet for `quiet` seconds after `since`
        (the end of a reply), or None while it has not."""
        last_loud = None
        for i in range(bisect.bisect_left(self.times, since), len(self.times)):
            if self.levels[i] > self.threshold:
                last_loud = self.times[i]
        if last_loud is None or not self.times or self.times[-1] - last_loud < quiet:
            return None
        return last_loud
