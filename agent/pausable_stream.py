"""Audio streams that stop while nobody needs their frames, and the tracks' mute states.

A subscribed track delivers audio frames to its `rtc.AudioStream` all the time, muted or
not: the library's 10 ms playout pull runs for every subscribed track, and each frame is
an FFI event, a GIL handover, a loop wake-up and a free (20 a second per stream at 50 ms;
docs/capacity.md, session 18: nearly all of an idle agent's Python time).

`PausableAudioStream.pause()` drops the native stream and `resume()` makes a new one on
the same track for the same reader: the iterator simply waits meanwhile, the
subscription stays (resuming is one local FFI call, not a negotiation), and nothing is
pushed into the gap (room_io's own close/reopen ends its reader and starts another).
`adopt()` turns a stream somebody else made (room_io's) into one.

`MuteLedger` keeps every track's muted state as the library reports it, in the library's
thread (`ffi_routes.RoutedFfiQueue.watch_mutes`), and resumes the streams listening on a
track at its unmute right there, before any event loop hears of it: a busy job's loop
can be hundreds of milliseconds late, the speech right behind the unmute is not. Pausing
is decided on a loop, under the same lock, against the ledger's newest state, so a pause
that comes late can never undo the unmute after it.

Uses the rtc SDK's stream internals (`_ffi_handle`, `_create_owned_stream`, `_task`), as
of livekit 1.1.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import OrderedDict
from typing import Any, cast

from livekit import rtc
from livekit.rtc._ffi_client import INVALID_HANDLE, FfiClient, FfiHandle

from . import ffi_routes

logger = logging.getLogger("ptt-agent.stream")

# one lock for the ledger and every stream's state: a pause, a resume and the mute
# state they are decided on never interleave (reentrant: a resume makes an FFI request)
_lock = threading.RLock()
_MAX_TRACKS = 10_000  # mute states kept, newest first out last (a track sid is ~20 bytes)


class PausableAudioStream(rtc.AudioStream):
    """An `rtc.AudioStream` whose native stream can be stopped and started again."""

    _paused: bool
    _closing: bool
    resumed_at: float = 0.0  # monotonic time of the last resume

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._paused = False
        self._closing = False

    @classmethod
    def adopt(cls, stream: rtc.AudioStream) -> PausableAudioStream:
        """`stream` itself, now pausable (its class swapped: same object, same reader)."""
        if not isinstance(stream, cls):
            stream.__class__ = cls
            adopted = cast(PausableAudioStream, stream)
            adopted._paused = False
            adopted._closing = False
        return cast(PausableAudioStream, stream)

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def track_sid(self) -> str | None:
        return self._track.sid if self._track is not None else None

    def pause(self) -> bool:
        """Stop the native stream (no more frames, no events); False if it was not running."""
        with _lock:
            if self._paused or self._closing or self._task.done():
                return False
            old, self._ffi_handle = self._ffi_handle, FfiHandle(INVALID_HANDLE)
            self._paused = True
        old.dispose()  # its end-of-stream, if the library sends one, matches no handle now
        return True

    def resume(self) -> bool:
        """Start a new native stream on the same track; False if it was not paused or the
        track is gone (then it stays paused, and `aclose` ends the reader)."""
        with _lock:
            if not self._paused:
                return False
            try:
                info = self._create_owned_stream()
            except Exception as e:  # the track was unpublished meanwhile
                logger.debug("stream not resumed", extra={"error": repr(e)})
                return False
            handle = FfiHandle(info.handle.id)
            routed = ffi_routes.routed_queue()
            if routed is not None:
                routed.reroute_stream(self._ffi_queue, handle.handle)
            self._ffi_handle = handle
            self._info = info.info
            self._paused = False
            self.resumed_at = time.monotonic()
        return True

    async def aclose(self) -> None:
        with _lock:
            self._closing = True
            LEDGER.forget(self)
        if self._paused and not self.resume():
            # no native stream left to end the reader: end it here
            if self._track is not None:
                self._track._unregister_audio_stream(self)
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
            FfiClient.instance.queue.unsubscribe(self._ffi_queue)
            self._queue.put(None)
            return
        await super().aclose()


class MuteLedger:
    """Every track's muted state, in the library's order, and who resumes at an unmute."""

    def __init__(self) -> None:
        self._muted: OrderedDict[str, bool] = OrderedDict()
        self._listening: dict[str, set[PausableAudioStream]] = {}
        self._watching = False

    def watch(self) -> None:
        """Follow the process's mutes from now on (idempotent; after ffi_routes.install)."""
        routed = ffi_routes.routed_queue()
        if routed is None:
            raise RuntimeError("ffi_routes.install() first: the ledger reads its events")
        with _lock:
            if not self._watching:
                routed.watch_mutes(self.observe)
                self._watching = True

    def observe(self, track_sid: str, muted: bool) -> None:
        """The library reported `track_sid` (un)muted (its thread): record it, and at an
        unmute resume every stream listening on the track."""
        with _lock:
            self._muted[track_sid] = muted
            self._muted.move_to_end(track_sid)
            while len(self._muted) > _MAX_TRACKS:
                self._muted.popitem(last=False)
            if not muted:
                for stream in list(self._listening.get(track_sid, ())):
                    stream.resume()

    def muted(self, track_sid: str, default: bool) -> bool:
        """The newest state reported for the track, else `default` (its publication's)."""
        with _lock:
            return self._muted.get(track_sid, default)

    def listen(self, stream: PausableAudioStream) -> None:
        """Resume `stream` whenever its track is unmuted."""
        sid = stream.track_sid
        if sid is None:
            return
        with _lock:
            self._listening.setdefault(sid, set()).add(stream)

    def forget(self, stream: PausableAudioStream) -> None:
        sid = stream.track_sid  # the track a stream listens on never changes
        with _lock:
            streams = self._listening.get(sid or "")
            if streams is not None:
                streams.discard(stream)
                if not streams:
                    del self._listening[sid or ""]

    def pause_if_muted(self, stream: PausableAudioStream, default: bool) -> bool:
        """Pause `stream` if its track is muted by the newest state; True if it paused."""
        sid = stream.track_sid
        with _lock:
            if sid is None or not self.muted(sid, default):
                return False
            return stream.pause()


LEDGER = MuteLedger()
