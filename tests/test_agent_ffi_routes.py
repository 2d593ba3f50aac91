"""agent.ffi_routes: each FFI event reaches the subscribers it is for, and no completion
is lost (the SDK's real protobuf messages, the queue's real delivery through loops)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from typing import Any

import pytest
from livekit.rtc._ffi_client import FfiClient
from livekit.rtc._proto import ffi_pb2 as proto

from agent.ffi_routes import RoutedFfiQueue

pytestmark = pytest.mark.unit


def _callback(aid: int) -> Any:
    e = proto.FfiEvent()
    e.capture_audio_frame.async_id = aid
    return e


def _response(aid: int) -> Any:
    r = proto.FfiResponse()
    r.capture_audio_frame.async_id = aid
    return r


def _frame(stream: int) -> Any:
    e = proto.FfiEvent()
    e.audio_stream_event.stream_handle = stream
    return e


def _room_event(room: int) -> Any:
    e = proto.FfiEvent()
    e.room_event.room_handle = room
    return e


async def _drain(queue: Any) -> list[Any]:
    await asyncio.sleep(0)  # deliveries are call_soon_threadsafe callbacks
    await asyncio.sleep(0)
    out = []
    while not queue.empty():
        out.append(queue.get_nowait())
    return out


async def test_a_bound_request_gets_its_completion_and_nothing_else() -> None:
    q = RoutedFfiQueue()
    waiter = q.subscribe()
    q.request_returned(_response(41))
    other = q.subscribe()  # another request, still unbound
    for event in (_frame(5), _callback(40), _room_event(1), _callback(41)):
        q.put(event)
    got = await _drain(waiter)
    assert [e.capture_audio_frame.async_id for e in got] == [41]
    # the unbound one still sees everything, as the SDK's own queue does
    assert len(await _drain(other)) == 4
    assert q.counts() == {"checked": 1, "unbound": 1, "requests": 1, "streams": 0}


async def test_a_completion_before_the_binding_is_not_lost() -> None:
    q = RoutedFfiQueue()
    waiter = q.subscribe()
    q.put(_callback(7))  # the FFI thread was faster than the request's return
    q.request_returned(_response(7))
    q.put(_frame(3))
    got = await _drain(waiter)
    assert [e.WhichOneof("message") for e in got] == ["capture_audio_frame"]


async def test_a_stream_gets_only_its_own_frames_once_routed() -> None:
    q = RoutedFfiQueue()
    a = q.subscribe(filter_fn=lambda e: e.WhichOneof("message") == "audio_stream_event")
    b = q.subscribe(filter_fn=lambda e: e.WhichOneof("message") == "audio_stream_event")
    q.put(_frame(2))  # before either knows its handle: both, as before
    q.route_stream(a, 1)
    q.route_stream(b, 2)
    for h in (1, 2, 2, 1, 2):
        q.put(_frame(h))
    assert [e.audio_stream_event.stream_handle for e in await _drain(a)] == [2, 1, 1]
    assert [e.audio_stream_event.stream_handle for e in await _drain(b)] == [2, 2, 2, 2]
    q.unsubscribe(a)
    q.unsubscribe(b)
    assert q.counts() == {"checked": 0, "unbound": 0, "requests": 0, "streams": 0}


async def test_filtered_subscribers_keep_their_filters_and_see_completions() -> None:
    """A room takes the completions of requests it forwards (publish_track's), bound or
    not; with its narrowed filter it never takes frame completions."""
    q = RoutedFfiQueue()
    room = q.subscribe(filter_fn=lambda e: e.WhichOneof("message") != "audio_stream_event")
    waiter = q.subscribe()
    q.request_returned(_response(9))
    q.put(_callback(9))
    q.put(_frame(1))
    q.put(_room_event(4))
    assert [e.WhichOneof("message") for e in await _drain(room)] == [
        "capture_audio_frame",
        "room_event",
    ]
    assert len(await _drain(waiter)) == 1


async def test_binding_is_per_thread_and_cleared_by_any_request() -> None:
    q = RoutedFfiQueue()
    mine = q.subscribe()
    q.request_returned(None)  # a request that raised: nothing is bound
    q.request_returned(_response(3))  # a later request does not take the old subscriber
    assert q.counts()["requests"] == 0
    loop = asyncio.get_running_loop()
    theirs: list[Any] = []

    def elsewhere() -> None:  # another thread's request binds nothing of this thread's
        q.request_returned(_response(5))
        theirs.append(q.subscribe(loop=loop))

    mine2 = q.subscribe()
    t = threading.Thread(target=elsewhere)
    t.start()
    t.join()
    q.request_returned(_response(6))
    assert q.counts() == {"checked": 2, "unbound": 2, "requests": 1, "streams": 0}
    q.put(_callback(6))
    assert len(await _drain(mine2)) == 1
    assert len(await _drain(mine)) == 1  # never bound: it sees everything


async def test_captures_complete_in_the_librarys_thread_beside_the_sdks_own() -> None:
    """send_capture(): a real unqueued source, 300 frames; each completion reaches its own
    callback, in the library's thread (not the loop's), none is lost to a completion that
    beat the registration, no subscriber is made for them, and the SDK's own
    capture_frame on the same source still completes through its subscription."""
    from livekit import rtc

    from agent import ffi_routes

    ffi_routes.install()
    queue = FfiClient.instance.queue
    assert isinstance(queue, RoutedFfiQueue)
    source = rtc.AudioSource(24000, 1, queue_size_ms=0)
    frame = rtc.AudioFrame(bytes(480), 24000, 1, 240)
    loop = asyncio.get_running_loop()
    before = queue.counts()

    async def captured(f: Any) -> Any:
        got: asyncio.Future[Any] = loop.create_future()

        def done(event: Any) -> None:
            threads.add(threading.get_ident())
            loop.call_soon_threadsafe(got.set_result, event)

        queue.send_capture(ffi_routes.capture_request(source, f), f, done)
        return await asyncio.wait_for(got, 5)

    threads: set[int] = set()
    try:
        for i in range(300):
            if i % 50 == 49:
                await source.capture_frame(frame)  # the SDK's path, interleaved
            else:
                assert not (await captured(frame)).capture_audio_frame.error
        assert queue._captures == {}
        assert queue.counts() == before
        assert threading.get_ident() not in threads
        bad = rtc.AudioFrame(bytes(960), 48000, 1, 480)  # not the source's rate
        assert (await captured(bad)).capture_audio_frame.error
        assert queue._captures == {}
    finally:
        await source.aclose()
    # a request the library refuses (a closed source: no completion will ever come)
    with pytest.raises(RuntimeError, match="refused"):
        queue.send_capture(ffi_routes.capture_request(source, frame), frame, threads.add)
    assert queue._captures == {}


RACE = """
import threading
from livekit.rtc import _ffi_client as fc
from agent import ffi_routes

made = []
making = threading.Event()  # a's client is being made
b_went_on = threading.Event()  # b waits on install's lock, or made a client of its own
init = fc.FfiClient.__init__

def held_init(self):
    made.append(threading.current_thread().name)
    if len(made) == 1:
        making.set()
        b_went_on.wait(30)  # a's client is still being made while b goes on
    else:
        b_went_on.set()
    init(self)

class SeenLock:
    # install's lock, telling when b has to wait for it
    def __init__(self):
        self._lock = threading.Lock()
    def __enter__(self):
        if not self._lock.acquire(blocking=False):
            b_went_on.set()
            self._lock.acquire()
    def __exit__(self, *exc):
        self._lock.release()

fc.FfiClient.__init__ = held_init
ffi_routes._lock = SeenLock()
seen = {}

def job(name):
    if name == "b":
        making.wait(30)
    ffi_routes.install()
    seen[name] = fc.FfiClient.instance  # what the job's room would use right after

threads = [threading.Thread(target=job, args=(n,), name=n) for n in ("a", "b")]
for t in threads: t.start()
for t in threads: t.join()
queue = fc.FfiClient.instance.queue
print(len(made), seen["a"] is seen["b"], type(queue).__name__)
"""


def test_a_second_thread_installing_meanwhile_waits_for_the_routed_client() -> None:
    """Two job threads start together: the second must not go on to the SDK while the
    first is still making its (lazily made, unlocked) client, or it makes a second one
    whose queue is not routed."""
    out = subprocess.run(
        [sys.executable, "-c", RACE], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.split() == ["1", "True", "RoutedFfiQueue"], out.stderr
