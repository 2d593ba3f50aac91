"""Each FFI event to the queue that wants it, not to every queue of the process.

The livekit rtc SDK (1.1.21, pinned by livekit-agents 1.8.9) hands every event of the
process to every subscriber whose filter passes it, through `call_soon_threadsafe` on
the subscriber's loop:

- an `AudioStream` takes every stream's frames (its filter checks the event type only)
  and drops those of other streams after the hop;
- a `Room` takes every event that is not stream media, among them the completion of
  every `AudioSource.capture_frame` of the process (100 a second per paced source,
  paced_source.py) and the room events of every other room, and pushes each through
  its local participant's queue before the next.

With N sessions in one process (jobs on the thread executor, or the headless client's
sessions) that is O(N^2) wake-ups. livekit 1.2 filters audio streams by handle; this
module applies the same narrowing to the pinned SDK once each object knows its handle
(events before that still pass, as before, and are dropped by the object itself).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from livekit import rtc
from livekit.rtc._ffi_client import FfiClient

_ROOM_NEVER = ("audio_stream_event", "video_stream_event", "capture_audio_frame")
_installed = False


def install() -> None:
    """Narrow the filters of every AudioStream and Room created from now on (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    stream_init = rtc.AudioStream.__init__
    room_connect = rtc.Room.connect

    @functools.wraps(stream_init)
    def _stream_init(self: rtc.AudioStream, *args: Any, **kwargs: Any) -> None:
        stream_init(self, *args, **kwargs)
        handle = self._ffi_handle
        if handle is not None:
            _narrow(self._ffi_queue, _stream_filter(handle.handle))

    @functools.wraps(room_connect)
    async def _room_connect(self: rtc.Room, *args: Any, **kwargs: Any) -> None:
        await room_connect(self, *args, **kwargs)
        handle = self._ffi_handle
        if handle is not None:
            _narrow(self._ffi_queue, _room_filter(handle.handle))

    rtc.AudioStream.__init__ = _stream_init  # type: ignore[method-assign]
    rtc.Room.connect = _room_connect  # type: ignore[method-assign]


def _stream_filter(handle: int) -> Callable[[Any], bool]:
    def wanted(e: Any) -> bool:
        return bool(
            e.WhichOneof("message") == "audio_stream_event"
            and e.audio_stream_event.stream_handle == handle
        )

    return wanted


def _room_filter(handle: int) -> Callable[[Any], bool]:
    def wanted(e: Any) -> bool:
        which = e.WhichOneof("message")
        if which in _ROOM_NEVER:
            return False
        return bool(which != "room_event" or e.room_event.room_handle == handle)

    return wanted


def _narrow(queue: Any, fn: Callable[[Any], bool]) -> None:
    ffi_queue = FfiClient.instance.queue
    with ffi_queue._lock:
        subs = ffi_queue._subscribers
        for i, (q, loop, _old) in enumerate(subs):
            if q is queue:
                subs[i] = (q, loop, fn)
                return
