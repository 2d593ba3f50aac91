"""An audio source that sends nothing while it has nothing to say.

`rtc.AudioSource` with a queue (every default) pumps 10 ms of silence into WebRTC
whenever its queue is empty, so each published track Opus-encodes 100 silent frames a
second for as long as the room lasts: measured on this machine, ~5-8 % of a core per
idle published track, the largest part of an idle PTT session's cost (an agent talks
for seconds in a session of minutes). Without a queue (`queue_size_ms=0`) the native
source forwards each 10 ms frame at once and sends nothing in between; this class adds
the real-time pacing the queue gave, in Python, only while there is audio to send.

It offers what `rtc.AudioSource` offers its callers (livekit-agents' room output and the
headless client's microphone): `capture_frame`, `queued_duration`, `clear_queue`,
`wait_for_playout`, `aclose`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable

from livekit import rtc

from .capture_chain import CaptureChain

logger = logging.getLogger("ptt-agent")

LEAD_S = 0.06  # audio handed to WebRTC ahead of real time (the receiver's jitter buffer)
REFILL_S = 0.03  # the pump wakes when the lead falls under this
CHAIN_AHEAD = 8  # frames handed to the capture chain and not yet sent, at most
BEHIND_WAIT_S = 0.5  # the longest the pump waits for a chain that has that many


class PacedAudioSource:
    """`rtc.AudioSource` semantics (a bounded queue played out in real time) without the
    idle silence. Frames must have the source's rate and channel count; the rate must
    be a multiple of 100 Hz (WebRTC takes 10 ms frames)."""

    def __init__(self, sample_rate: int, num_channels: int, *, queue_size_ms: int = 200) -> None:
        if sample_rate % 100:
            raise ValueError(f"sample_rate {sample_rate} is not a multiple of 100 Hz")
        self._source = rtc.AudioSource(sample_rate, num_channels, queue_size_ms=0)
        # rtc.LocalAudioTrack.create_audio_track reads the handle of the source it is given
        self._ffi_handle = self._source._ffi_handle
        self._sample_rate = sample_rate
        self._num_channels = num_channels
        self._chunk_samples = sample_rate // 100
        self._chunk_bytes = self._chunk_samples * num_channels * 2
        self._limit = max(1, queue_size_ms // 10)
        self._chunks: deque[bytes] = deque()
        self._partial = b""
        self._due = 0.0  # monotonic instant at which all audio sent so far has played
        self._has_work = asyncio.Event()
        self._has_room = asyncio.Event()
        self._has_room.set()
        self._drained = asyncio.Event()  # set whenever the queue runs empty
        self._pump_atask: asyncio.Task[None] | None = None
        self._chain: CaptureChain | None = None  # made at the first send
        self._chained: bool | None = None
        self._closing = False
        self.on_playout_started: Callable[[float], None] | None = None
        """Called with the monotonic instant the first frame after a silence is sent."""

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    @property
    def num_channels(self) -> int:
        return self._num_channels

    @property
    def queued_duration(self) -> float:
        """Seconds of audio accepted but not yet played (sent ahead or still queued)."""
        ahead = max(0.0, self._due - time.monotonic())
        return ahead + len(self._chunks) * 0.01 + self._partial_seconds()

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        """Queue `frame`; waits while the queue is full (it then plays in real time)."""
        if self._closing or frame.samples_per_channel == 0:
            return
        if frame.sample_rate != self._sample_rate or frame.num_channels != self._num_channels:
            raise ValueError(
                f"frame is {frame.sample_rate} Hz x {frame.num_channels}, the source "
                f"{self._sample_rate} Hz x {self._num_channels}"
            )
        data = self._partial + bytes(frame.data.cast("B"))
        whole = len(data) - len(data) % self._chunk_bytes
        self._partial = data[whole:]
        for i in range(0, whole, self._chunk_bytes):
            while len(self._chunks) >= self._limit and not self._closing:
                self._has_room.clear()
                await self._has_room.wait()
            self._chunks.append(data[i : i + self._chunk_bytes])
            self._wake()

    def clear_queue(self) -> None:
        """Drop what has not been sent yet (the few ms sent ahead still play)."""
        if self._chain is not None:
            self._chain.clear()
        self._chunks.clear()
        self._partial = b""
        self._has_room.set()
        self._drained.set()

    async def wait_for_playout(self) -> None:
        """Until everything accepted so far has played; a trailing part of a 10 ms frame
        is padded with silence and sent."""
        if self._partial:
            pad = self._chunk_bytes - len(self._partial)
            self._chunks.append(self._partial + bytes(pad))
            self._partial = b""
            self._wake()
        while self._chunks and not self._closing:
            self._drained.clear()
            await self._drained.wait()
        ahead = self._due - time.monotonic()
        if ahead > 0 and not self._closing:
            await asyncio.sleep(ahead)

    async def aclose(self) -> None:
        self._closing = True
        self._has_room.set()
        self._drained.set()
        if self._pump_atask is not None:
            self._pump_atask.cancel()
            await asyncio.wait({self._pump_atask})
        if self._chain is not None:
            self._chain.close()
        await self._source.aclose()

    def _sender(self) -> CaptureChain | None:
        if self._chained is None:
            self._chain = CaptureChain.for_source(self._source)
            self._chained = self._chain is not None
        return self._chain

    def _send_room(self) -> int:
        """Frames the sender takes now: what the chain has not sent yet counts as queued
        here (under load its completions come slower than real time; the queue then
        fills and `capture_frame` waits, as with the SDK's own awaited captures)."""
        chain = self._sender()
        return CHAIN_AHEAD - chain.backlog if chain is not None else CHAIN_AHEAD

    async def _send(self, frames: list[rtc.AudioFrame]) -> None:
        """10 ms frames to WebRTC, in order: chained in the FFI library's thread when this
        process's events are routed (capture_chain.py; returns at once), else one SDK
        capture after the other."""
        chain = self._sender()
        if chain is None:
            for frame in frames:
                await self._source.capture_frame(frame)
            return
        chain.push(frames)
        if (error := chain.take_error()) is not None:
            logger.warning("audio frames not sent: %s", error)

    async def _chain_caught_up(self) -> None:
        """Until the chain's backlog is down to half of CHAIN_AHEAD (one loop wake-up,
        from the completing thread), or BEHIND_WAIT_S (its completions stopped)."""
        chain = self._chain
        if chain is None:
            return
        loop = asyncio.get_running_loop()
        caught_up = asyncio.Event()
        if chain.notify_below(CHAIN_AHEAD // 2, lambda: loop.call_soon_threadsafe(caught_up.set)):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(caught_up.wait(), BEHIND_WAIT_S)

    def _partial_seconds(self) -> float:
        return len(self._partial) / (2 * self._num_channels * self._sample_rate)

    def _wake(self) -> None:
        if self._pump_atask is None or self._pump_atask.done():
            self._pump_atask = asyncio.create_task(self._pump(), name="paced-audio-pump")
        self._has_work.set()

    async def _pump(self) -> None:
        """Hand queued 10 ms frames to WebRTC, at most LEAD_S ahead of real time."""
        while not self._closing:
            if not self._chunks:
                self._has_work.clear()
                await self._has_work.wait()
                continue
            now = time.monotonic()
            if self._due < now:  # the track was idle: play from now
                self._due = now
                if self.on_playout_started is not None:
                    self.on_playout_started(now)
            frames: list[rtc.AudioFrame] = []
            room = self._send_room()
            while self._chunks and self._due - now < LEAD_S and len(frames) < room:
                chunk = self._chunks.popleft()
                self._has_room.set()
                frames.append(
                    rtc.AudioFrame(
                        chunk, self._sample_rate, self._num_channels, self._chunk_samples
                    )
                )
                self._due += 0.01
            await self._send(frames)
            if not self._chunks:
                self._drained.set()
            if room <= 0:  # the chain is behind: woken when it has caught up half way
                await self._chain_caught_up()
                continue
            await asyncio.sleep(max(0.0, self._due - time.monotonic() - REFILL_S))
