"""An AgentSession in-process: real STT service, real Deepgram plugin, real espeak TTS.

Only the room is replaced: a paced microphone input, an audio sink that plays out in
real time, and a RoomLink that records what would be published. These stand in for
LiveKit's transport, which these tests do not exercise.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import numpy as np
from livekit import rtc
from livekit.agents import Agent, AgentSession
from livekit.agents.voice import io
from livekit.plugins import deepgram

from agent.ffi_acks import current_bound
from agent.ptt import TRANSCRIPT_TIMEOUT, PttController
from agent.session import ptt_session
from agent.stt_reset import ResetStrategy, ResettableSTT
from stack.process import Child, http_ok
from stack.supervisor import free_port

RATE = 48000
FRAME = RATE // 100  # 10 ms


class PacedMic(io.AudioInput):
    """A microphone: 10 ms frames in real time, speech when queued, silence otherwise."""

    def __init__(self) -> None:
        super().__init__(label="paced-mic")
        self._pending: deque[np.ndarray] = deque()
        self._next = time.monotonic()

    def say(self, pcm: np.ndarray) -> None:
        for i in range(0, len(pcm), FRAME):
            chunk = pcm[i : i + FRAME]
            if len(chunk) < FRAME:
                chunk = np.pad(chunk, (0, FRAME - len(chunk)))
            self._pending.append(chunk)

    def clear(self) -> None:
        self._pending.clear()

    @property
    def speaking(self) -> bool:
        return bool(self._pending)

    async def __anext__(self) -> rtc.AudioFrame:
        self._next += FRAME / RATE
        delay = self._next - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            self._next = time.monotonic()
        data = self._pending.popleft() if self._pending else np.zeros(FRAME, dtype=np.int16)
        return rtc.AudioFrame(data.tobytes(), RATE, 1, FRAME)


class RealtimeSink(io.AudioOutput):
    """Plays captured audio out in real time and reports playback like a room output."""

    def __init__(self) -> None:
        super().__init__(
            label="realtime-sink", capabilities=io.AudioOutputCapabilities(pause=False)
        )
        self._pushed = 0.0
        self._started: float | None = None
        self._playout: asyncio.Task[None] | None = None
        self.frames = 0

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        if self._started is None:
            self._started = time.monotonic()
            self.on_playback_started(created_at=time.time())
        self._pushed += frame.duration
        self.frames += 1

    def flush(self) -> None:
        super().flush()
        if self._started is None:
            return
        remaining = self._started + self._pushed - time.monotonic()
        played = self._pushed
        self._reset()
        self._playout = asyncio.create_task(self._finish(max(0.0, remaining), played))

    async def _finish(self, delay: float, played: float) -> None:
        await asyncio.sleep(delay)
        self.on_playback_finished(playback_position=played, interrupted=False)

    def clear_buffer(self) -> None:
        if self._playout is not None and not self._playout.done():
            self._playout.cancel()
            self.on_playback_finished(playback_position=0.0, interrupted=True)
            self._playout = None
        elif self._started is not None:
            position = time.monotonic() - self._started
            self._reset()
            self.on_playback_finished(playback_position=position, interrupted=True)

    def _reset(self) -> None:
        self._started = None
        self._pushed = 0.0


class RecordingRoom:
    """The RoomLink the controller talks to, recording attributes and publications."""

    def __init__(self) -> None:
        self.attributes: dict[str, str] = {}
        self.published: list[tuple[str, dict[str, Any]]] = []
        self.publish_bounds: list[float] = []
        self.sent_bytes: list[tuple[str, str, str, bytes]] = []
        self.listening_to: str | None = None
        self.writes: list[dict[str, str]] = []  # each set_attributes call, once it ended
        self.writes_held = 0  # set_attributes calls waiting for `release_writes`
        self._writes_go = asyncio.Event()
        self._writes_go.set()

    def listen_to(self, identity: str) -> None:
        self.listening_to = identity

    def hold_writes(self) -> None:
        """From now on set_attributes does not complete (what the SDK sometimes does)
        until `release_writes`."""
        self._writes_go.clear()

    def release_writes(self) -> None:
        self._writes_go.set()

    async def set_attributes(self, attributes: dict[str, str]) -> None:
        if not self._writes_go.is_set():
            self.writes_held += 1
            await self._writes_go.wait()
            self.writes_held -= 1
        self.attributes.update(attributes)
        self.writes.append(dict(attributes))

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        self.published.append((topic, payload))
        self.publish_bounds.append(current_bound())  # how long its SDK wait may last

    async def send_bytes(
        self, data: bytes, *, to: str, topic: str, stream_id: str, attributes: dict[str, str]
    ) -> None:
        self.sent_bytes.append((to, topic, stream_id, data))


class KillableSTT:
    """The real STT service in a subprocess on a fixed port, which a test may kill and
    start again (`STT_DEBUG_HOLD_RESULTS_MS` given by `hold_ms`)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"ws://127.0.0.1:{self.port}/v1/listen"
        self._child: Child | None = None

    def start(self, hold_ms: int | None = None) -> None:
        env = {**os.environ, "STT_PORT": str(self.port), "STT_HOST": "127.0.0.1"}
        env.pop("STT_DEBUG_HOLD_RESULTS_MS", None)
        if hold_ms is not None:
            env["STT_DEBUG_HOLD_RESULTS_MS"] = str(hold_ms)
        self._child = Child("stt", [sys.executable, "-m", "stt_service"], env=env, echo=None)
        self._child.start()
        self._child.wait_ready(http_ok(f"http://127.0.0.1:{self.port}/healthz"), 60)

    def restart(self, hold_ms: int | None = None) -> None:
        """SIGKILL, then a fresh service on the same port."""
        assert self._child is not None
        self._child.stop(kill=True)
        self.start(hold_ms)

    def stop(self) -> None:
        if self._child is not None:
            self._child.stop()


@contextmanager
def stt_service() -> Iterator[str]:
    """The real STT service in a subprocess; yields its websocket URL."""
    service = KillableSTT()
    try:
        service.start()
        yield service.url
    finally:
        service.stop()


class Harness:
    """One running AgentSession with its controller, mic, sink and recorded room."""

    def __init__(
        self, stt_url: str, strategy: ResetStrategy, *, transcript_timeout: float | None = None
    ) -> None:
        self.stt_url = stt_url
        self.strategy = strategy
        self.transcript_timeout = transcript_timeout
        self.mic = PacedMic()
        self.sink = RealtimeSink()
        self.room = RecordingRoom()
        self.user_finals: list[str] = []

    async def __aenter__(self) -> Harness:
        self.http = aiohttp.ClientSession()
        inner = deepgram.STT(
            base_url=self.stt_url, api_key="offline", interim_results=True, http_session=self.http
        )
        self.stt = ResettableSTT(inner=inner, strategy=self.strategy)
        self.session: AgentSession = ptt_session(self.stt)
        self.session.input.audio = self.mic
        self.session.output.audio = self.sink
        self.session.on("user_input_transcribed", self._on_transcript)
        await self.session.start(agent=Agent(instructions="test"))
        self.controller = PttController(
            session=self.session,
            stt=self.stt,
            room=self.room,
            transcript_timeout=(
                TRANSCRIPT_TIMEOUT if self.transcript_timeout is None else self.transcript_timeout
            ),
        )
        return self

    def _on_transcript(self, ev: Any) -> None:
        if ev.is_final:
            self.user_finals.append(ev.transcript)

    async def __aexit__(self, *exc: object) -> None:
        await self.session.aclose()
        await self.controller.aclose()
        await self.stt.aclose()
        if self.session.tts is not None:
            await self.session.tts.aclose()
        await self.http.close()

    def metrics(self) -> list[dict[str, Any]]:
        return [p for topic, p in self.room.published if topic == "ptt.metrics"]


async def until(predicate, within: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    """Wait for a condition the agent reaches asynchronously (a bound, not a timing)."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - state owned by the framework
            await asyncio.sleep(0.02)
