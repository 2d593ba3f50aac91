"""A short ring of recent microphone audio, so a turn keeps its first words.

The browser unmutes the microphone at the instant of press and sends `start_turn`
at the same time; the RPC reaches the agent a round trip later. Audio that
arrives in between is kept here and replayed into the fresh STT stream.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from livekit import rtc


class PrerollBuffer:
    """Frames received since the last turn boundary, the newest `max_duration` seconds."""

    def __init__(self, *, max_duration: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._max_duration = max_duration
        self._clock = clock
        self._frames: deque[tuple[float, rtc.AudioFrame]] = deque()
        self._boundary = clock()

    @property
    def max_duration(self) -> float:
        return self._max_duration

    def push(self, frame: rtc.AudioFrame) -> None:
        """Record one frame with its arrival time; drop what is older than the window."""
        now = self._clock()
        self._frames.append((now, frame))
        self._prune(now)

    def mark_boundary(self) -> None:
        """A turn ended or was cancelled: nothing before now may reach a later turn."""
        self._boundary = self._clock()
        self._frames.clear()

    def take(self, since: float) -> list[rtc.AudioFrame]:
        """Frames received after `since` and after the last boundary, oldest first; empties it."""
        self._prune(self._clock())
        start = max(since, self._boundary)
        frames = [f for t, f in self._frames if t > start]
        self._frames.clear()
        return frames

    def _prune(self, now: float) -> None:
        limit = now - self._max_duration
        while self._frames and self._frames[0][0] < limit:
            self._frames.popleft()
