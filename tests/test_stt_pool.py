"""STT service: where the decoder pool places streams (two real decoder processes)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable

import pytest

from stt_service import worker
from stt_service.engine import build_spec
from stt_service.events import TranscriptEvent
from stt_service.pool import IN_FLIGHT, NORMAL, URGENT, DecoderPool, PoolError, _Worker
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


async def queued(target: _Worker, waiting: int) -> None:
    """Until the worker has IN_FLIGHT calls submitted and `waiting` calls queued behind
    them (each call gets there in its task's first step: a few loop turns at most)."""
    for _ in range(100):
        if target._in_flight == IN_FLIGHT and len(target._waiting) == waiting:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{len(target._waiting)} calls queued, {target._in_flight} in flight")


async def test_urgent_calls_go_first_and_a_waiting_call_can_be_hurried() -> None:
    """With the worker's calls in flight, waiting calls run by priority, then arrival; a
    NORMAL call moved up with hurry() runs before the NORMAL ones queued ahead of it."""
    pool = DecoderPool(build_spec("commands"), workers=0)  # one decoder thread
    await pool.start()
    target = pool._workers[0]
    gate = threading.Event()
    ran: list[str] = []

    def job(name: str) -> None:
        if name.startswith("busy"):
            gate.wait(10)
        ran.append(name)

    def call(name: str, priority: int = NORMAL, key: str = "") -> asyncio.Task[None]:
        return asyncio.ensure_future(pool._call(target, job, name, priority=priority, key=key))

    try:
        tasks = [call("busy-1"), call("busy-2")]  # IN_FLIGHT of them: the rest wait
        tasks += [call("a"), call("b", key="stream-b"), call("c"), call("final", URGENT)]
        await queued(target, 4)
        target.hurry("stream-b")
        gate.set()
        await asyncio.gather(*tasks)
        assert ran == ["busy-1", "busy-2", "final", "b", "a", "c"]
    finally:
        gate.set()
        await pool.aclose()


async def test_a_cancelled_waiting_call_gives_its_turn_away() -> None:
    pool = DecoderPool(build_spec("commands"), workers=0)
    await pool.start()
    target = pool._workers[0]
    gate = threading.Event()
    try:
        busy = [asyncio.ensure_future(pool._call(target, gate.wait, 10)) for _ in range(2)]
        waiting = asyncio.ensure_future(pool._call(target, gate.wait, 10))
        after = asyncio.ensure_future(pool._call(target, lambda: "ran"))
        await queued(target, 2)
        waiting.cancel()
        gate.set()
        await asyncio.gather(*busy)
        assert await after == "ran"
        assert waiting.cancelled()
    finally:
        gate.set()
        await pool.aclose()


async def test_a_hurried_stream_stays_ahead_from_its_placing_call_to_its_final(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Finalize arrives while the stream's first audio waits for its worker: the call
    that places the stream goes ahead, and so does the push after it, though that push
    was asked for as NORMAL before the Finalize came."""
    pool = DecoderPool(build_spec("commands"), workers=0)  # one decoder thread: in order
    await pool.start()
    target = pool._workers[0]
    gate = threading.Event()
    ran: list[str] = []

    def recorded(name: str, fn: Callable[..., object]) -> Callable[..., object]:
        def run(*args: object) -> object:
            ran.append(name)
            return fn(*args)

        return run

    monkeypatch.setattr(worker, "open_stream", recorded("place", worker.open_stream))
    monkeypatch.setattr(worker, "push", recorded("push", worker.push))

    def job(name: str) -> None:
        if name.startswith("busy"):
            gate.wait(10)
        ran.append(name)

    def call(name: str) -> asyncio.Task[None]:
        return asyncio.ensure_future(pool._call(target, job, name))

    handle = await pool.open_stream(OPTIONS)
    try:
        tasks = [call("busy-1"), call("busy-2"), call("a"), call("b"), call("c")]
        await queued(target, 3)
        pushed = asyncio.ensure_future(handle.push(AUDIO))
        await queued(target, 4)
        handle.hurry()
        gate.set()
        await asyncio.gather(pushed, *tasks)
        # each grant goes to the best call waiting when a slot frees (IN_FLIGHT = 2)
        assert ran == ["busy-1", "busy-2", "place", "a", "b", "push", "c"]
    finally:
        gate.set()
        handle.release()
        await pool.aclose()
