"""Energy VAD and the speech/silence state machine that decides utterance boundaries.

Deterministic by construction: a 10 ms frame is speech when its RMS level is above a
fixed threshold; speech starts after ``onset_frames`` speech frames in a row and ends
after ``endpoint_ms`` of frames below the threshold.
"""

from __future__ import annotations

import enum

import numpy as np

FRAME_SAMPLES = 160  # 10 ms at 16 kHz
FRAME_MS = 10


def frame_level_db(frame: np.ndarray) -> float:
    """RMS level of int16 samples in dBFS (-inf for digital silence)."""
    if frame.size == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean(np.square(frame, dtype=np.float64))))
    if rms == 0.0:
        return float("-inf")
    return 20.0 * float(np.log10(rms / 32768.0))


class Signal(enum.Enum):
    """What one frame changed."""

    NONE = "none"
    SPEECH_START = "speech_start"
    ENDPOINT = "endpoint"


class Segmenter:
    """Track speech and silence over 10 ms frames.

    ``endpoint_ms`` of ``None`` never signals an endpoint (the caller finalizes).
    ``silence_ms`` is the silence since the last speech frame of the latest utterance.
    """

    def __init__(
        self, *, threshold_db: float, endpoint_ms: int | None, onset_frames: int = 3
    ) -> None:
        if onset_frames < 1:
            raise ValueError("onset_frames must be >= 1")
        self.threshold_db = threshold_db
        self.endpoint_ms = endpoint_ms
        self.onset_frames = onset_frames
        self.in_speech = False
        self.silence_ms = 0
        self._run = 0  # consecutive speech frames while idle

    def step(self, frame: np.ndarray) -> Signal:
        """Classify one frame and return the transition it caused, if any."""
        speech = frame_level_db(frame) > self.threshold_db
        if not self.in_speech:
            self.silence_ms += FRAME_MS
            self._run = self._run + 1 if speech else 0
            if self._run >= self.onset_frames:
                self.in_speech = True
                self.silence_ms = 0
                self._run = 0
                return Signal.SPEECH_START
            return Signal.NONE
        if speech:
            self.silence_ms = 0
            return Signal.NONE
        self.silence_ms += FRAME_MS
        if self.endpoint_ms is not None and self.silence_ms >= self.endpoint_ms:
            self.in_speech = False
            return Signal.ENDPOINT
        return Signal.NONE

    def reset(self) -> None:
        """Forget the current utterance (after a forced finalization)."""
        self.in_speech = False
        self._run = 0
