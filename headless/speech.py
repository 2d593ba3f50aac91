"""The headless microphone's words: espeak-ng phrases at 48 kHz, made once per process."""

from __future__ import annotations

import functools
import subprocess

import numpy as np

RATE = 48000
ESPEAK_RATE = 22050


@functools.lru_cache(maxsize=256)
def _synth(phrase: str, rate: int) -> bytes:
    raw = subprocess.run(
        ["espeak-ng", "-v", "en-us", "--stdout", "--", phrase],
        check=True,
        capture_output=True,
    ).stdout
    pcm = np.frombuffer(raw[44:], dtype=np.int16).astype(np.float64)
    t_out = np.arange(int(len(pcm) * rate / ESPEAK_RATE)) / rate
    out = np.interp(t_out, np.arange(len(pcm)) / ESPEAK_RATE, pcm)
    voiced = np.nonzero(np.abs(out) > 300)[0]
    if len(voiced):
        out = out[max(0, voiced[0] - rate // 100) : voiced[-1] + rate // 100]
    return out.astype(np.int16).tobytes()


def synthesize(phrase: str, *, rate: int = RATE) -> np.ndarray:
    """espeak-ng `-v en-us` audio of `phrase` as int16 at `rate`, silence trimmed (cached:
    a load run says the same phrases many times)."""
    return np.frombuffer(_synth(phrase, rate), dtype=np.int16)
