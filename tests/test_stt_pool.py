"""STT service: where the decoder pool places streams (two real decoder processes)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from stt_service.engine import build_spec
from stt_service.events import TranscriptEvent
from stt_service.pool import DecoderPool, PoolError
from stt_service.recognizer import RecognizerOptions

pytestmark = pytest.mark.unit

OPTIONS = RecognizerOptions(sample_rate=16000, interim_results=True)
AUDIO = bytes(3200)  # 100 ms of digital silence


@pytest.fixture
async def pool() -> AsyncIterator[DecoderPool]:
    p = DecoderPool(build_spec("commands"), workers=2)
    await p.start()
    yield p
    await p.aclose()


async def test_a_silent_standby_holds_no_decoder(pool: DecoderPool) -> None:
    """Two push-to-talk sessions, each with its turn's stream and a standby opened right
    after it. Only the turn streams get audio: they must decode on different workers
    (placed at connect time, both went to the same one and the other worker idled)."""
    turn_a, standby_a = await pool.open_stream(OPTIONS), await pool.open_stream(OPTIONS)
    turn_b, standby_b = await pool.open_stream(OPTIONS), await pool.open_stream(OPTIONS)
    handles = (turn_a, standby_a, turn_b, standby_b)
    try:
        assert [h.worker_index for h in handles] == [None] * 4
        await turn_a.push(AUDIO)
        await turn_b.push(AUDIO)
        assert {turn_a.worker_index, turn_b.worker_index} == {0, 1}
        assert standby_a.worker_index is None and standby_b.worker_index is None
        assert await pool.stream_count() == 2
    finally:
        for h in handles:
            h.release()


async def test_a_stream_closed_unused_is_never_placed(pool: DecoderPool) -> None:
    handle = await pool.open_stream(OPTIONS)
    assert await handle.close() == ([], 0.0)
    assert handle.worker_index is None
    with pytest.raises(PoolError, match="closed"):
        await handle.push(AUDIO)  # a released stream is not placed again
    assert await pool.stream_count() == 0


async def test_a_finalize_first_places_the_stream(pool: DecoderPool) -> None:
    handle = await pool.open_stream(OPTIONS)
    try:
        events = await handle.finalize()
        assert handle.worker_index is not None
        assert len(events) == 1
        final = events[0]
        assert isinstance(final, TranscriptEvent)
        assert final.is_final and final.from_finalize and final.text == ""
    finally:
        handle.release()
    assert await pool.stream_count() == 0
