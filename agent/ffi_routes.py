"""Each FFI event to the queue that wants it, not to every queue of the process.

The livekit rtc SDK (1.1.21, pinned by livekit-agents 1.8.9) hands every event of the
process to every subscriber whose filter passes it, through `call_soon_threadsafe` on
the subscriber's loop:

- an `AudioStream` takes every stream's frames (its filter checks the event type only)
  and drops those of other streams after the hop;
- a `Room` takes every event that is not stream media, among them the completion of
  every `AudioSource.capture_frame` of the process (100 a second per paced source,
  paced_source.py) and the room events of every other room;
- every awaited request (`capture_frame`, `set_attributes`, `publish_data`, ...)
  subscribes with no filter at all, from just before the request until its completion,
  and so takes every event of the process meanwhile: each audio frame of every stream,
  each completion of every other request. A paced source always has one such request
  pending.

With N sessions in one process (jobs on the thread executor, or the headless client's
sessions) that is O(N^2) wake-ups. `install()` replaces the process's event queue with
`RoutedFfiQueue`:

- an audio stream's frames go to that stream only, once the stream knows its handle;
- an awaited request's subscriber is bound to its request's `async_id` as soon as the
  request returns it (the SDK always subscribes, then requests, on the same thread), and
  from then on gets only that request's completion. Until then it gets everything, as
  before, so a completion that comes back first is not lost;
- rooms get what they got before, minus other streams' media and other sources' frame
  completions (they never use either); their filters are narrowed once connected.

Subscribers with a filter of their own (rooms, data streams, data tracks) keep it.

`send_capture(request, frame, done)` sends an unqueued source's capture
(`queue_size_ms=0`, paced_source.py) without the SDK's per-call subscription: its
completion, found by its `async_id`, is handed to `done` in the library's thread
(capture_chain.py sends the next frame from there). The SDK's call, 100 times a second
per paced source, made a queue, took the routing lock three times and armed a timer.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from livekit import rtc
from livekit.rtc._ffi_client import INVALID_HANDLE, FfiClient, FfiQueue
from livekit.rtc._proto import ffi_pb2 as proto_ffi
from livekit.rtc._utils import Queue

logger = logging.getLogger("ptt-agent.ffi")
_ROOM_NEVER = ("audio_stream_event", "video_stream_event", "capture_audio_frame")
# capture ids chosen here, far above those the library counts up from 1 for itself
_CAPTURE_IDS = itertools.count(1 << 48)
_lock = threading.Lock()
_installed = False

Filter = Callable[[Any], bool]


@dataclass(eq=False)
class _Sub:
    queue: Queue[Any]
    loop: Any
    filter_fn: Filter | None
    async_id: int | None = None  # an awaited request's: only its completion is wanted
    stream: int | None = None  # an audio stream's handle: only its frames are wanted


def _async_id(message: Any) -> int | None:
    """The `async_id` of a response or callback (every async request has one), or None."""
    if message is None:
        return None
    which = message.WhichOneof("message")
    if which is None:
        return None
    aid = getattr(getattr(message, which), "async_id", None)
    return aid if isinstance(aid, int) and aid else None


class RoutedFfiQueue(FfiQueue[Any]):
    """The SDK's event queue, delivering by stream handle and request id."""

    def __init__(self) -> None:
        super().__init__()
        self._subs: list[_Sub] = []  # filtered and unbound subscribers: checked per event
        self._by_async_id: dict[int, _Sub] = {}
        self._by_stream: dict[int, list[_Sub]] = {}
        self._by_queue: dict[int, _Sub] = {}  # id(queue) -> its subscriber
        self._local = threading.local()  # the last unfiltered subscriber, per thread
        self._captures: dict[int, tuple[Callable[[Any], None], Any]] = {}
        self._mute_watchers: list[Callable[[str, bool], None]] = []

    # -- the FfiQueue interface ------------------------------------------------------
    def subscribe(self, loop: Any | None = None, filter_fn: Filter | None = None) -> Queue[Any]:
        sub = _Sub(Queue(), loop or asyncio.get_event_loop(), filter_fn)
        with self._lock:
            self._subs.append(sub)
            self._by_queue[id(sub.queue)] = sub
        self._local.candidate = sub if filter_fn is None else None
        return sub.queue

    def unsubscribe(self, queue: Queue[Any]) -> None:
        if getattr(self._local, "candidate", None) is not None:
            if self._local.candidate.queue is queue:
                self._local.candidate = None
        with self._lock:
            sub = self._by_queue.pop(id(queue), None)
            if sub is None:
                return
            if sub.async_id is not None:
                self._by_async_id.pop(sub.async_id, None)
            elif sub.stream is not None:
                subs = self._by_stream.get(sub.stream, [])
                if sub in subs:
                    subs.remove(sub)
                if not subs:
                    self._by_stream.pop(sub.stream, None)
            elif sub in self._subs:
                self._subs.remove(sub)

    def put(self, item: Any) -> None:
        which = item.WhichOneof("message")
        if which == "room_event" and self._mute_watchers:
            self._tell_mutes(item.room_event)
        if which == "capture_audio_frame":  # registered before its request was made
            capture = self._captures.pop(item.capture_audio_frame.async_id, None)
            if capture is not None:
                done, _frame = capture
                done(item)  # in this (the library's) thread
                return
        with self._lock:
            if which == "audio_stream_event":
                subs = self._by_stream.get(item.audio_stream_event.stream_handle)
                if subs:
                    for sub in subs:
                        self._deliver(sub, item)
                    return
            else:
                aid = _async_id(item)
                if aid is not None and (waiter := self._by_async_id.get(aid)) is not None:
                    self._deliver(waiter, item)
            for sub in self._subs:
                if sub.filter_fn is not None:
                    try:
                        if not sub.filter_fn(item):
                            continue
                    except Exception:
                        pass  # on a filter error, deliver (the SDK's rule)
                self._deliver(sub, item)

    # -- captures --------------------------------------------------------------------
    def send_capture(self, request: Any, frame: Any, done: Callable[[Any], None]) -> None:
        """Send a capture request; `done(event)` is called with its completion, in the
        FFI library's thread that delivers it (it must be quick and must not block).
        The frame is kept until then.

        The request's id is chosen here (`request_async_id`, which the library uses for
        its completion), so the completion is registered before the call and no lock is
        held across it; the response is not read: the library refuses a request it
        cannot take with no response at all, and completes every capture it took."""
        aid = next(_CAPTURE_IDS)
        request.capture_audio_frame.request_async_id = aid
        self._captures[aid] = (done, frame)
        if not _raw_request(request.SerializeToString()):
            self._captures.pop(aid, None)
            raise RuntimeError("the FFI library refused the capture (its source is gone?)")

    # -- routing ---------------------------------------------------------------------
    def request_returned(self, response: Any) -> None:
        """The calling thread's request returned: bind the subscriber made just before."""
        found: _Sub | None = getattr(self._local, "candidate", None)
        if found is None:  # most requests (every capture's is, once bound): no lock taken
            return
        sub: _Sub = found
        self._local.candidate = None
        aid = _async_id(response)
        if aid is None:
            return
        with self._lock:
            if sub not in self._subs or self._by_queue.get(id(sub.queue)) is not sub:
                return
            self._subs.remove(sub)
            sub.async_id = aid
            self._by_async_id[aid] = sub

    def route_stream(self, queue: Queue[Any], handle: int) -> None:
        """An audio stream's queue gets its own frames only."""
        with self._lock:
            sub = self._by_queue.get(id(queue))
            if sub is not None and sub in self._subs:
                self._subs.remove(sub)
                sub.stream = handle
                self._by_stream.setdefault(handle, []).append(sub)

    def reroute_stream(self, queue: Queue[Any], handle: int) -> None:
        """A routed stream's queue now takes the frames of the stream `handle` instead
        (pausable_stream.py: the same reader over a new native stream)."""
        with self._lock:
            sub = self._by_queue.get(id(queue))
            if sub is None or sub.stream is None:
                return
            subs = self._by_stream.get(sub.stream, [])
            if sub in subs:
                subs.remove(sub)
            if not subs:
                self._by_stream.pop(sub.stream, None)
            sub.stream = handle
            self._by_stream.setdefault(handle, []).append(sub)

    def watch_mutes(self, watcher: Callable[[str, bool], None]) -> None:
        """`watcher(track_sid, muted)` for every track (un)mute of the process, in the
        library's thread, in the library's order, before any loop hears of it. It must
        be quick and must not raise."""
        with self._lock:
            if watcher not in self._mute_watchers:
                self._mute_watchers.append(watcher)

    def _tell_mutes(self, event: Any) -> None:
        kind = event.WhichOneof("message")
        if kind not in ("track_muted", "track_unmuted"):
            return
        sid = getattr(event, kind).track_sid
        for watcher in list(self._mute_watchers):  # outside the lock: it may make requests
            try:
                watcher(sid, kind == "track_muted")
            except Exception:
                logger.exception("a mute watcher failed")

    def narrow(self, queue: Queue[Any], filter_fn: Filter) -> None:
        """Replace the filter of `queue`'s subscription."""
        with self._lock:
            for sub in self._subs:
                if sub.queue is queue:
                    sub.filter_fn = filter_fn
                    return

    def counts(self) -> dict[str, int]:
        """Subscribers by kind (tests and diagnostics)."""
        with self._lock:
            return {
                "checked": len(self._subs),
                "unbound": sum(1 for s in self._subs if s.filter_fn is None),
                "requests": len(self._by_async_id),
                "streams": sum(len(s) for s in self._by_stream.values()),
            }

    @staticmethod
    def _deliver(sub: _Sub, item: Any) -> None:
        try:
            sub.loop.call_soon_threadsafe(sub.queue.put_nowait, item)
        except RuntimeError:
            pass  # its loop is closed: the SDK logs and goes on, so does this


def _raw_request(data: bytes) -> bool:
    """`FfiClient.request` without reading the response (False: refused)."""
    lib = FfiClient.instance._ffi_lib
    resp_ptr = ctypes.POINTER(ctypes.c_ubyte)()
    resp_len = ctypes.c_size_t()
    buf = ctypes.cast(ctypes.c_char_p(data), ctypes.POINTER(ctypes.c_ubyte))
    handle = lib.livekit_ffi_request(buf, len(data), ctypes.byref(resp_ptr), ctypes.byref(resp_len))
    if handle == INVALID_HANDLE:
        return False
    lib.livekit_ffi_drop_handle(handle)
    return True


def capture_request(source: rtc.AudioSource, frame: rtc.AudioFrame) -> Any:
    """The FFI request that captures `frame` on `source` (the SDK's own, unqueued)."""
    req = proto_ffi.FfiRequest()
    req.capture_audio_frame.source_handle = source._ffi_handle.handle
    req.capture_audio_frame.buffer.CopyFrom(frame._proto_info())
    return req


def routed_queue() -> RoutedFfiQueue | None:
    """This process's routed queue, once `install()` has run."""
    queue = FfiClient.instance.queue if _installed else None
    return queue if isinstance(queue, RoutedFfiQueue) else None


def install() -> None:
    """Route this process's FFI events (idempotent; call before the first Room). Another
    thread calling it meanwhile returns only once the events are routed: the SDK's
    `FfiClient.instance` is made lazily with no lock, so a thread that went on and used
    the SDK while the first was still making it made a second client, whose queue was
    not routed and got every event (two job threads of the worker start together; whole
    load steps broke, docs/capacity.md, session 14)."""
    global _installed
    with _lock:
        if not _installed:
            _install()
            _installed = True


def _install() -> None:
    client = FfiClient.instance
    routed = RoutedFfiQueue()
    with client._queue._lock:
        for queue, loop, fn in client._queue._subscribers:  # made before install
            sub = _Sub(queue, loop, fn if fn is not None else _everything)
            routed._subs.append(sub)
            routed._by_queue[id(queue)] = sub
        client._queue = routed
    request = FfiClient.request

    @functools.wraps(request)
    def _request(self: FfiClient, req: Any) -> Any:
        try:
            resp = request(self, req)
        except BaseException:
            routed.request_returned(None)
            raise
        routed.request_returned(resp)
        return resp

    FfiClient.request = _request  # type: ignore[method-assign]
    stream_init = rtc.AudioStream.__init__
    room_connect = rtc.Room.connect

    @functools.wraps(stream_init)
    def _stream_init(self: rtc.AudioStream, *args: Any, **kwargs: Any) -> None:
        stream_init(self, *args, **kwargs)
        handle = self._ffi_handle
        if handle is not None:
            routed.route_stream(self._ffi_queue, handle.handle)

    @functools.wraps(room_connect)
    async def _room_connect(self: rtc.Room, *args: Any, **kwargs: Any) -> None:
        await room_connect(self, *args, **kwargs)
        handle = self._ffi_handle
        if handle is not None:
            routed.narrow(self._ffi_queue, _room_filter(handle.handle))

    rtc.AudioStream.__init__ = _stream_init  # type: ignore[method-assign]
    rtc.Room.connect = _room_connect  # type: ignore[method-assign]


def _everything(_e: Any) -> bool:
    return True


def _room_filter(handle: int) -> Filter:
    def wanted(e: Any) -> bool:
        which = e.WhichOneof("message")
        if which in _ROOM_NEVER:
            return False
        return bool(which != "room_event" or e.room_event.room_handle == handle)

    return wanted
