"""Streaming sample-rate conversion of 16-bit PCM with a windowed-sinc filter (numpy only)."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

# Zero crossings of the sinc kernel on each side; 16 gives > 70 dB stop-band with Blackman.
_ZERO_CROSSINGS = 16
# Fraction of the lower Nyquist frequency kept, leaving room for the transition band.
_ROLLOFF = 0.94
# Above this many distinct fractional phases, compute the kernel per call instead.
_MAX_TABLE_PHASES = 4096


def _blackman(x: np.ndarray) -> np.ndarray:
    """Blackman window on [-1, 1] (zero outside)."""
    w = 0.42 + 0.5 * np.cos(np.pi * x) + 0.08 * np.cos(2 * np.pi * x)
    return np.where(np.abs(x) <= 1.0, w, 0.0)


def _kernel(dist: np.ndarray, cutoff: float, half: int) -> np.ndarray:
    return cutoff * np.sinc(cutoff * dist) * _blackman(dist / half)


@lru_cache(maxsize=16)
def _phase_table(src_rate: int, dst_rate: int, cutoff: float, half: int) -> np.ndarray:
    """Kernel rows for every fractional phase ``k / (dst / gcd)`` of an output sample."""
    phases = dst_rate // math.gcd(src_rate, dst_rate)
    taps = np.arange(-half + 1, half + 1, dtype=np.float64)
    frac = np.arange(phases, dtype=np.float64) / phases
    return _kernel(frac[:, None] - taps[None, :], cutoff, half)


class StreamResampler:
    """Convert a stream of int16 samples from ``src_rate`` to ``dst_rate``.

    Output sample ``n`` is the band-limited value of the input at time ``n / dst_rate``,
    so chunk boundaries do not matter: feeding a signal in pieces gives the same samples
    as feeding it at once (except the last few, held back until more input arrives).
    """

    def __init__(self, src_rate: int, dst_rate: int = 16000) -> None:
        if src_rate <= 0 or dst_rate <= 0:
            raise ValueError("sample rates must be positive")
        self.src_rate = src_rate
        self.dst_rate = dst_rate
        self._cutoff = min(1.0, dst_rate / src_rate) * _ROLLOFF  # fraction of input Nyquist
        self._half = int(np.ceil(_ZERO_CROSSINGS / self._cutoff))  # kernel half-width, samples
        # Input history; absolute index of buf[0] is self._base. Zeros before the stream.
        self._buf = np.zeros(self._half, dtype=np.float64)
        self._base = -self._half
        self._next = 0  # index of the next output sample
        # (n * src) % dst is always a multiple of gcd, so phases repeat: tabulate them.
        self._phase_step = math.gcd(src_rate, dst_rate)
        self._table: np.ndarray | None = None
        if dst_rate // self._phase_step <= _MAX_TABLE_PHASES:
            self._table = _phase_table(src_rate, dst_rate, self._cutoff, self._half)

    def process(self, samples: np.ndarray) -> np.ndarray:
        """Feed int16 samples; return the int16 output samples now computable."""
        if self.src_rate == self.dst_rate:
            return samples.astype(np.int16, copy=False)
        self._buf = np.concatenate([self._buf, samples.astype(np.float64)])
        last_usable = self._base + len(self._buf) - 1 - self._half
        # outputs n with floor(n * src / dst) <= last_usable
        end = -(-(last_usable + 1) * self.dst_rate // self.src_rate)
        if end <= self._next:
            return np.zeros(0, dtype=np.int16)
        n = np.arange(self._next, end, dtype=np.int64)
        num = n * self.src_rate
        whole = num // self.dst_rate
        rem = num % self.dst_rate
        if self.src_rate % self.dst_rate == 0 and self._table is not None:
            # integer decimation (48k, 32k -> 16k): windows are evenly spaced, no gather
            step = self.src_rate // self.dst_rate
            first = int(whole[0]) - self._base - self._half + 1
            windows = np.lib.stride_tricks.sliding_window_view(self._buf, 2 * self._half)
            # einsum, not @: BLAS would start threads that thrash in worker processes
            out = np.einsum(
                "ij,j->i", windows[first : first + step * n.size : step], self._table[0]
            )
            return self._advance(end, out)
        taps = np.arange(-self._half + 1, self._half + 1, dtype=np.int64)
        idx = (whole - self._base)[:, None] + taps[None, :]
        if self._table is not None:
            kernel = self._table[rem // self._phase_step]
        else:
            dist = (rem / self.dst_rate)[:, None] - taps[None, :]
            kernel = _kernel(dist, self._cutoff, self._half)
        out = np.einsum("ij,ij->i", self._buf[idx], kernel)
        return self._advance(end, out)

    def _advance(self, end: int, out: np.ndarray) -> np.ndarray:
        self._next = end
        # keep what the next output still needs
        keep_from = (end * self.src_rate) // self.dst_rate - self._half + 1
        drop = max(0, keep_from - self._base)
        self._buf = self._buf[drop:]
        self._base += drop
        return np.clip(np.rint(out), -32768, 32767).astype(np.int16)
