"""Percentiles and transcript correctness: the maths behind every report."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

PERCENTILES = (50, 95, 99)


def percentile(values: list[float], p: float) -> float:
    """The `p`-th percentile by linear interpolation between closest ranks (numpy's
    default), of a non-empty list."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} is outside 0..100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(rank), math.ceil(rank)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


def summarize(values: Iterable[float | None]) -> dict[str, float | int | None]:
    """{n, p50, p95, p99, max} of the values that were measured (None is skipped);
    the figures are None when nothing was measured."""
    measured = [float(v) for v in values if v is not None]
    out: dict[str, float | int | None] = {"n": len(measured)}
    for p in PERCENTILES:
        out[f"p{p}"] = round(percentile(measured, p), 1) if measured else None
    out["max"] = round(max(measured), 1) if measured else None
    return out


def words(text: str) -> list[str]:
    """Lower-case words, punctuation dropped: how transcripts are compared."""
    return re.findall(r"[a-z0-9']+", text.lower())


@dataclass(frozen=True)
class Correctness:
    """A transcript against the phrase said."""

    expected: str
    heard: str
    word_errors: int  # substitutions + insertions + deletions
    first_word: bool  # the phrase's first word is the transcript's first word
    last_word: bool

    @property
    def exact(self) -> bool:
        return self.word_errors == 0

    @property
    def wer(self) -> float:
        n = len(words(self.expected))
        return self.word_errors / n if n else float(self.word_errors > 0)

    def to_dict(self) -> dict[str, object]:
        return {
            "expected": self.expected,
            "heard": self.heard,
            "word_errors": self.word_errors,
            "wer": round(self.wer, 3),
            "first_word": self.first_word,
            "last_word": self.last_word,
        }


def compare(expected: str, heard: str) -> Correctness:
    """Word-level edit distance between `expected` and `heard`, and whether the first and
    last words of `expected` open and close `heard` (clipped starts and ends show there)."""
    ref, hyp = words(expected), words(heard)
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    first = not ref or (bool(hyp) and hyp[0] == ref[0])
    last = not ref or (bool(hyp) and hyp[-1] == ref[-1])
    return Correctness(expected, heard, prev[-1], first, last)
