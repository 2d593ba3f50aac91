"""agent.capture_chain: a paced source's frames reach WebRTC in order, one capture in
flight at a time, sent from the library's thread; a failed capture is reported, not
raised there, and does not stop the frames after it. Real native sources, read back
through an `rtc.AudioStream` on the local track (what WebRTC was handed)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from livekit import rtc

from agent import ffi_routes
from agent.capture_chain import CaptureChain

pytestmark = pytest.mark.unit
RATE = 16000
CHUNK = RATE // 100


def _numbered(n: int, first: int = 1) -> list[rtc.AudioFrame]:
    return [
        rtc.AudioFrame(np.full(CHUNK, v, dtype=np.int16).tobytes(), RATE, 1, CHUNK)
        for v in range(first, first + n)
    ]


class _Heard:
    """Each 10 ms frame's value, as a stream on the source's local track gets them."""

    def __init__(self, source: rtc.AudioSource) -> None:
        track = rtc.LocalAudioTrack.create_audio_track("chain", source)
        self._stream = rtc.AudioStream(track, sample_rate=RATE, num_channels=1)
        self.values: list[int] = []
        self._grew = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for ev in self._stream:
            rows = np.frombuffer(ev.frame.data, dtype=np.int16).reshape(-1, CHUNK)
            self.values.extend(int(r[0]) for r in rows if (r == r[0]).all())
            self._grew.set()

    async def until(self, count: int) -> list[int]:
        while len(self.values) < count:
            self._grew.clear()
            await asyncio.wait_for(self._grew.wait(), 5)
        return self.values

    async def aclose(self) -> None:
        self._task.cancel()
        await self._stream.aclose()


@pytest.fixture
async def source() -> Any:
    ffi_routes.install()
    src = rtc.AudioSource(RATE, 1, queue_size_ms=0)
    yield src
    await src.aclose()


async def _until(ready: Callable[[], bool], within: float = 5.0) -> None:
    """Until `ready()` holds (the chain's completions come from the library's thread)."""

    async def poll() -> None:
        while not ready():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), within)


async def _settled(chain: CaptureChain) -> None:
    await _until(lambda: chain.idle)


async def test_frames_pushed_in_refills_arrive_in_order_and_each_once(source: Any) -> None:
    """Each 10 ms frame once, in the order pushed (WebRTC's sink gets what was sent)."""
    chain = CaptureChain.for_source(source)
    assert chain is not None
    heard = _Heard(source)
    frames = _numbered(300)
    for i in range(0, 300, 3):  # the paced source's refills, most behind one in flight
        chain.push(frames[i : i + 3])
        if i % 45 == 42:  # (what a paced source has sent ahead stays under MAX_PENDING)
            await _settled(chain)
    assert await heard.until(300) == list(range(1, 301))
    await _settled(chain)
    assert chain.sent == 300 and chain.dropped == 0 and chain.take_error() is None
    assert ffi_routes.RoutedFfiQueue is type(chain._queue) and chain._queue._captures == {}
    await heard.aclose()


async def test_a_failed_capture_is_reported_and_the_rest_still_sent(source: Any) -> None:
    chain = CaptureChain.for_source(source)
    assert chain is not None
    heard = _Heard(source)
    bad = rtc.AudioFrame(bytes(960), 48000, 1, 480)  # not the source's rate
    chain.push([*_numbered(2), bad, *_numbered(2, first=3)])
    assert await heard.until(4) == [1, 2, 3, 4]
    await _settled(chain)
    error = chain.take_error()
    assert error and chain.take_error() is None  # reported once
    await heard.aclose()


async def test_clear_drops_what_was_not_sent_and_the_chain_goes_on(source: Any) -> None:
    chain = CaptureChain.for_source(source)
    assert chain is not None
    heard = _Heard(source)
    held: list[Any] = []
    done = chain._done
    chain._done = held.append  # type: ignore[method-assign,assignment]
    chain.push(_numbered(5))
    await _until(lambda: bool(held))  # the first frame's completion, held back
    chain.clear()
    chain._done = done  # type: ignore[method-assign]
    done(held[0])
    chain.push(_numbered(2, first=6))
    assert await heard.until(3) == [1, 6, 7]
    await _settled(chain)
    assert chain.sent == 3 and chain.take_error() is None
    await heard.aclose()


async def test_a_closed_chain_or_source_sends_nothing_more(source: Any) -> None:
    chain = CaptureChain.for_source(source)
    assert chain is not None
    chain.close()
    chain.push(_numbered(3))
    assert chain.idle and chain.sent == 0
    other = CaptureChain.for_source(source)
    assert other is not None
    await source.aclose()  # the fixture's second close is a no-op
    other.push(_numbered(3))
    await _settled(other)
    assert other.sent == 0 and "closed" in (other.take_error() or "")


async def test_a_paced_source_waits_for_a_chain_that_falls_behind(source: Any) -> None:
    """Completions held back (as under load, each waiting for the GIL): the paced source
    pushes no more than CHAIN_AHEAD into the chain, its own queue fills and
    capture_frame waits; once they come, every frame is sent, in order, none dropped."""
    from agent import paced_source

    paced = paced_source.PacedAudioSource(RATE, 1, queue_size_ms=100)
    heard = _Heard(paced._source)
    chain = paced._sender()
    assert chain is not None
    held: list[Any] = []
    release = False
    done = chain._done

    def slow_done(event: Any) -> None:
        if release:
            done(event)
        else:
            held.append(event)

    chain._done = slow_done  # type: ignore[method-assign]
    most = 0
    push = chain.push

    def recorded(frames: list[rtc.AudioFrame]) -> None:  # the backlog only grows here
        nonlocal most
        push(frames)
        most = max(most, chain.backlog)

    chain.push = recorded  # type: ignore[method-assign]
    frames = _numbered(60)
    talk = asyncio.ensure_future(paced.capture_frame(_joined(frames)))
    # the chain takes CHAIN_AHEAD frames, then the source's own queue (100 ms) fills
    await _until(lambda: chain.backlog == paced_source.CHAIN_AHEAD)
    await _until(lambda: len(paced._chunks) == 10)
    assert not talk.done() and len(held) == 1  # capture_frame waits for room
    await _until(lambda: chain._waiter is not None)  # the pump waits to be woken, no polling
    release = True
    for event in held:
        done(event)
    await asyncio.wait_for(talk, 5)
    await asyncio.wait_for(paced.wait_for_playout(), 5)
    assert await heard.until(60) == list(range(1, 61))
    assert most <= paced_source.CHAIN_AHEAD and chain.dropped == 0
    assert chain.take_error() is None
    await heard.aclose()
    await paced.aclose()


def _joined(frames: list[rtc.AudioFrame]) -> rtc.AudioFrame:
    data = b"".join(bytes(f.data.cast("B")) for f in frames)
    return rtc.AudioFrame(data, RATE, 1, CHUNK * len(frames))


async def test_a_waiter_is_woken_once_caught_up_or_closed(source: Any) -> None:
    chain = CaptureChain.for_source(source)
    assert chain is not None
    held: list[Any] = []
    done = chain._done
    chain._done = held.append  # type: ignore[method-assign,assignment]
    chain.push(_numbered(6))  # one in flight (held), five pending
    woken: list[str] = []
    assert chain.notify_below(6, lambda: woken.append("caught up")) is False  # already
    assert chain.notify_below(3, lambda: woken.append("caught up"))
    await _until(lambda: bool(held))
    chain._done = done  # type: ignore[method-assign]
    done(held.pop())  # the rest goes on from the library's thread
    await _until(lambda: chain.backlog <= 3)
    assert woken == ["caught up"]  # once
    await _settled(chain)
    assert woken == ["caught up"]
    chain._done = held.append  # type: ignore[method-assign,assignment]
    chain.push(_numbered(4))
    assert chain.notify_below(0, lambda: woken.append("closed"))
    chain.close()
    assert woken == ["caught up", "closed"]
