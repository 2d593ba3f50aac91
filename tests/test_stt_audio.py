"""STT service: resampling and the energy VAD / endpointing state machine."""

from __future__ import annotations

import numpy as np
import pytest

from stt_service.endpointing import FRAME_SAMPLES, Segmenter, Signal, frame_level_db
from stt_service.resample import StreamResampler

pytestmark = pytest.mark.unit


def tone(freq: float, rate: int, seconds: float = 1.0, amplitude: float = 10000) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


@pytest.mark.parametrize("rate", [8000, 11025, 22050, 24000, 44100, 48000])
def test_stt_resampler_keeps_in_band_tones(rate: int) -> None:
    out = StreamResampler(rate).process(tone(1000, rate))
    assert abs(out.size - 16000) <= 64
    expected = 10000 * np.sin(2 * np.pi * 1000 * np.arange(out.size) / 16000)
    inner = slice(300, out.size - 300)
    assert np.max(np.abs(out[inner] - expected[inner])) < 30  # < 0.3 % of amplitude


@pytest.mark.parametrize("rate", [22050, 44100, 48000])
def test_stt_resampler_removes_what_16k_cannot_hold(rate: int) -> None:
    out = StreamResampler(rate).process(tone(10000, rate))
    assert np.sqrt(np.mean(out[300:-300].astype(float) ** 2)) < 10  # from 7071 rms


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 48000])
def test_stt_resampler_is_chunk_invariant(rate: int) -> None:
    rng = np.random.default_rng(1)
    signal = rng.normal(0, 3000, rate).astype(np.int16)
    whole = StreamResampler(rate).process(signal)
    r = StreamResampler(rate)
    sizes = rng.integers(1, rate // 10, 200)
    pieces, pos = [], 0
    for size in sizes:
        pieces.append(r.process(signal[pos : pos + size]))
        pos += int(size)
    pieces.append(r.process(signal[pos:]))
    chunked = np.concatenate(pieces)
    assert np.array_equal(whole, chunked)


def test_stt_frame_level() -> None:
    assert frame_level_db(np.zeros(160, np.int16)) == float("-inf")
    full = np.full(160, 32767, np.int16)
    assert frame_level_db(full) == pytest.approx(0.0, abs=0.01)
    assert frame_level_db(full // 100) == pytest.approx(-40.0, abs=0.1)


def frames(*spans: tuple[str, int]) -> list[np.ndarray]:
    """('s', n) -> n speech frames at -20 dBFS, ('q', n) -> n silent frames."""
    out = []
    for kind, n in spans:
        level = 3277 if kind == "s" else 0
        out += [np.full(FRAME_SAMPLES, level, np.int16)] * n
    return out


def run(seg: Segmenter, fs: list[np.ndarray]) -> list[tuple[int, Signal]]:
    return [(i, s) for i, f in enumerate(fs) if (s := seg.step(f)) is not Signal.NONE]


def test_stt_segmenter_onset_and_endpoint() -> None:
    seg = Segmenter(threshold_db=-45, endpoint_ms=200)
    signals = run(seg, frames(("q", 10), ("s", 50), ("q", 30)))
    assert signals == [(12, Signal.SPEECH_START), (79, Signal.ENDPOINT)]
    assert not seg.in_speech


def test_stt_segmenter_ignores_clicks_and_short_gaps() -> None:
    seg = Segmenter(threshold_db=-45, endpoint_ms=200)
    fs = frames(("s", 2), ("q", 5), ("s", 20), ("q", 19), ("s", 20), ("q", 5))
    assert run(seg, fs) == [(9, Signal.SPEECH_START)]
    assert seg.in_speech


def test_stt_segmenter_without_endpointing_stays_in_speech() -> None:
    seg = Segmenter(threshold_db=-45, endpoint_ms=None)
    assert run(seg, frames(("s", 5), ("q", 500))) == [(2, Signal.SPEECH_START)]
    assert seg.silence_ms == 5000
    seg.reset()
    assert not seg.in_speech
