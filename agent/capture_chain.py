"""A paced source's 10 ms frames, each sent to WebRTC from the FFI library's thread as
soon as the one before it completes: the event loop wakes once per refill, not once per
frame.

An unqueued `rtc.AudioSource` (paced_source.py) takes one 10 ms frame per FFI request,
and the library completes each request with an event from one of its threads. Awaited
from the loop, as the SDK does it, every frame cost a request, a completion handed to
the loop (`call_soon_threadsafe`, a self-pipe write) and a task step: 100 loop wake-ups
a second per speaking source, in the agent worker for every session's reply and in the
headless client for every session's microphone (docs/capacity.md, session 14: the
captures led the talking agent's profile). `CaptureChain.push` queues the frames of one
refill; the first is sent at once, each next one from the completion of the one before,
in the library's thread. Only one capture of a source is in flight at a time, so frames
reach WebRTC in order (the library runs each capture as a task of its own: two
outstanding ones could be reordered).

A failed capture is kept as the chain's error, for its owner to report (`take_error`);
frames after it are still sent. Under load the completions can come slower than real
time (each waits for the GIL): the owner reads `backlog`, pushes no more than it wants
queued there, and is woken once it has caught up (`notify_below`: one loop wake-up from
the completing thread, instead of the owner polling; paced_source.py). A chain whose
completions stop coming (its source gone) drops its oldest frames past `MAX_PENDING`
instead of growing.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from livekit import rtc
from livekit.rtc._ffi_client import FfiClient

from .ffi_routes import RoutedFfiQueue, capture_request

MAX_PENDING = 50  # 0.5 s of 10 ms frames: more than its owner pushes ahead


class CaptureChain:
    """The frames of one unqueued source, sent one after the other (thread-safe)."""

    def __init__(self, source: rtc.AudioSource, queue: RoutedFfiQueue) -> None:
        self._source = source
        self._queue = queue
        self._lock = threading.Lock()
        self._pending: deque[rtc.AudioFrame] = deque()
        self._in_flight = False  # whoever set it sends the next frame
        self._closed = False
        self._error: str | None = None
        self._waiter: tuple[int, Callable[[], object]] | None = None
        self.sent = 0  # frames completed
        self.dropped = 0

    @classmethod
    def for_source(cls, source: rtc.AudioSource) -> CaptureChain | None:
        """A chain when this process's FFI events are routed (ffi_routes.install), else
        None (the caller then awaits the SDK's own capture_frame)."""
        queue = FfiClient.instance.queue
        return cls(source, queue) if isinstance(queue, RoutedFfiQueue) else None

    def push(self, frames: list[rtc.AudioFrame]) -> None:
        """Queue `frames` behind those not sent yet; returns at once."""
        with self._lock:
            if self._closed:
                return
            self._pending.extend(frames)
            while len(self._pending) > MAX_PENDING:
                self._pending.popleft()
                self.dropped += 1
                self._error = self._error or "captures stalled: oldest frames dropped"
            if self._in_flight or not self._pending:
                return
            self._in_flight = True
            frame = self._pending.popleft()
        self._send(frame)

    def take_error(self) -> str | None:
        with self._lock:
            error, self._error = self._error, None
        return error

    @property
    def backlog(self) -> int:
        """Frames pushed and not completed yet (pending, and the one in flight)."""
        with self._lock:
            return len(self._pending) + self._in_flight

    @property
    def idle(self) -> bool:
        """Nothing pending and nothing in flight."""
        with self._lock:
            return not self._in_flight and not self._pending

    def notify_below(self, level: int, wake: Callable[[], object]) -> bool:
        """Have `wake()` called once, from the thread that completes a capture, when the
        backlog falls to `level` (or the chain is cleared or closed). False, and no call,
        when it is there already. It must be quick and must not raise."""
        with self._lock:
            if self._closed or len(self._pending) + self._in_flight <= level:
                return False
            self._waiter = (level, wake)
            return True

    def clear(self) -> None:
        """Drop the frames not sent yet (the one in flight still plays)."""
        with self._lock:
            self._pending.clear()
            wake = self._take_waiter_locked(force=True)
        _call(wake)

    def close(self) -> None:
        """Send nothing more (a capture in flight completes; its frame is kept until)."""
        with self._lock:
            self._closed = True
            self._pending.clear()
            wake = self._take_waiter_locked(force=True)
        _call(wake)

    def _send(self, frame: rtc.AudioFrame) -> None:
        while True:
            try:
                if self._source._ffi_handle.disposed:
                    raise RuntimeError("the source is closed")
                self._queue.send_capture(capture_request(self._source, frame), frame, self._done)
                return
            except Exception as e:  # in the library's thread too: kept, never raised there
                with self._lock:
                    self._error = self._error or f"{type(e).__name__}: {e}"
                    nxt = self._next_locked()
                if nxt is None:
                    return
                frame = nxt

    def _done(self, event: Any) -> None:
        error = event.capture_audio_frame.error
        with self._lock:
            self.sent += 1
            if error:
                self._error = self._error or str(error)
            nxt = self._next_locked()
            wake = self._take_waiter_locked()
        _call(wake)
        if nxt is not None:
            self._send(nxt)

    def _take_waiter_locked(self, *, force: bool = False) -> Callable[[], object] | None:
        if self._waiter is None:
            return None
        level, wake = self._waiter
        # (the frame about to be sent counts: it was taken from pending, not yet in flight)
        if force or len(self._pending) + 1 <= level:
            self._waiter = None
            return wake
        return None

    def _next_locked(self) -> rtc.AudioFrame | None:
        if self._pending and not self._closed:
            return self._pending.popleft()
        self._in_flight = False
        return None


def _call(wake: Callable[[], object] | None) -> None:
    if wake is not None:
        with contextlib.suppress(Exception):  # (a closed loop: nobody waits any more)
            wake()
