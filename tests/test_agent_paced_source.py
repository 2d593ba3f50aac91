"""PacedAudioSource: what it hands to WebRTC, in what order, and nothing while idle.
The native source is real (no room needed); its capture call is observed."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from livekit import rtc

from agent.paced_source import PacedAudioSource

pytestmark = pytest.mark.unit
RATE = 24000


def _frame(values: np.ndarray) -> rtc.AudioFrame:
    return rtc.AudioFrame(values.astype(np.int16).tobytes(), RATE, 1, len(values))


def _observed(source: PacedAudioSource) -> list[np.ndarray]:
    sent: list[np.ndarray] = []
    send = source._send

    async def spy(frames: list[rtc.AudioFrame]) -> None:
        sent.extend(np.frombuffer(f.data, dtype=np.int16).copy() for f in frames)
        await send(frames)

    source._send = spy  # type: ignore[method-assign]
    return sent


async def test_audio_goes_out_in_10_ms_frames_in_order_and_nothing_after() -> None:
    source = PacedAudioSource(RATE, 1)
    sent = _observed(source)
    samples = np.arange(RATE // 10 * 3 + 100) % 30000  # 300 ms and a 100-sample tail
    for i in range(0, len(samples), RATE // 20):  # the room output's 50 ms frames
        await source.capture_frame(_frame(samples[i : i + RATE // 20]))
    await source.wait_for_playout()
    assert all(len(f) == RATE // 100 for f in sent)
    joined = np.concatenate(sent)
    assert np.array_equal(joined[: len(samples)], samples)
    assert not joined[len(samples) :].any()  # the tail padded with silence, once
    assert source.queued_duration == 0.0
    count = len(sent)
    await asyncio.sleep(0.15)  # idle: the pump sends no silence
    assert len(sent) == count
    await source.aclose()


async def test_clear_queue_drops_what_was_not_sent() -> None:
    source = PacedAudioSource(RATE, 1, queue_size_ms=1000)
    sent = _observed(source)
    await source.capture_frame(_frame(np.ones(RATE, dtype=np.int16)))  # 1 s, queued
    source.clear_queue()
    await source.wait_for_playout()
    assert len(sent) < 100  # only what had gone ahead before the clear
    await source.aclose()


async def test_frames_it_cannot_send_are_refused() -> None:
    with pytest.raises(ValueError, match="multiple of 100"):
        PacedAudioSource(22050, 1)
    source = PacedAudioSource(RATE, 1)
    with pytest.raises(ValueError, match="16000 Hz"):
        await source.capture_frame(rtc.AudioFrame(bytes(320), 16000, 1, 160))
    await source.aclose()
