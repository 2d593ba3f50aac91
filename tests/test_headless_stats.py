"""Headless client: percentiles, word errors and onsets, on real audio where it matters."""

from __future__ import annotations

import random

import numpy as np
import pytest

from headless import audio, stats
from headless.speech import RATE, synthesize

pytestmark = pytest.mark.unit


def test_percentiles_agree_with_numpy() -> None:
    rng = random.Random(7)
    for n in (1, 2, 5, 17, 100):
        values = [rng.uniform(0, 1000) for _ in range(n)]
        for p in (0, 50, 95, 99, 100):
            assert stats.percentile(values, p) == pytest.approx(np.percentile(values, p))


def test_summary_skips_what_was_not_measured() -> None:
    s = stats.summarize([10.0, None, 30.0, 20.0])
    assert s == {"n": 3, "p50": 20.0, "p95": 29.0, "p99": 29.8, "max": 30.0}
    assert stats.summarize([None]) == {"n": 0, "p50": None, "p95": None, "p99": None, "max": None}
    with pytest.raises(ValueError):
        stats.percentile([], 50)


@pytest.mark.parametrize(
    ("said", "heard", "errors", "first", "last"),
    [
        ("turn on the lights", "Turn on the lights.", 0, True, True),
        ("turn on the lights", "turn off the lights", 1, True, True),
        ("turn on the lights", "on the lights", 1, False, True),  # first word clipped
        ("red green blue", "red green", 1, True, False),  # last word cut
        ("open the door", "repeat that open the door", 2, False, True),  # a leak
        ("open the door", "", 3, False, False),
        ("", "", 0, True, True),
        ("", "hello", 1, True, True),
    ],
)
def test_word_errors_and_first_last_word(
    said: str, heard: str, errors: int, first: bool, last: bool
) -> None:
    c = stats.compare(said, heard)
    assert (c.word_errors, c.first_word, c.last_word) == (errors, first, last)
    assert c.exact == (errors == 0)


def test_onset_of_real_speech_after_silence_is_found_within_a_frame() -> None:
    speech = synthesize("open the door")
    rng = np.random.default_rng(1)
    lead = (rng.normal(0, 30, RATE // 2)).astype(np.int16)  # 0.5 s of a quiet room
    pcm = np.concatenate([lead, speech])
    levels = audio.frame_levels(pcm, RATE)
    onset = audio.onset_index(levels)
    assert onset is not None
    assert abs(onset * 10 - 500) <= 20  # ms: espeak's first 10 ms of trimmed audio are faint
    assert audio.onset_index(audio.frame_levels(lead, RATE)) is None


def test_a_lone_click_is_not_an_onset() -> None:
    assert audio.onset_index([0.0, 0.5, 0.0, 0.0]) is None
    assert audio.onset_index([0.0, 0.5, 0.5, 0.0]) == 1


def test_window_levels_match_rms_per_window() -> None:
    pcm = synthesize("hello agent")[: 480 * 7 + 100]
    got = audio.window_levels(pcm, 480)
    want = [audio.rms(pcm[i * 480 : (i + 1) * 480]) for i in range(7)]
    assert got == pytest.approx(want, rel=1e-5)


def test_level_log_onset_and_quiet_on_the_client_clock() -> None:
    log = audio.LevelLog()
    for i, level in enumerate([0, 0, 0.2, 0.3, 0.2, 0, 0, 0, 0, 0]):
        log.add(10.0 + i * 0.1, level)
    assert log.onset_after(10.0) == pytest.approx(10.2)
    assert log.onset_after(10.25) == pytest.approx(10.3)  # the reply is still audible
    assert log.onset_after(10.35) is None  # one loud frame left: not an onset
    assert log.onset_after(10.5) is None
    assert log.quiet_since(10.2, 0.4) == pytest.approx(10.4)
    assert log.quiet_since(10.2, 0.6) is None  # not quiet long enough yet
