"""One headless participant's connection: its microphone, the agent it talks to, and
everything the agent sends back, each stamped on the client's own clock."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from livekit import rtc

from agent import ffi_routes
from agent.native_logs import keep_native_logs_native
from agent.paced_source import PacedAudioSource
from agent.pausable_stream import PausableAudioStream

from .audio import LevelLog, window_levels
from .speech import RATE
from .target import Grant

logger = logging.getLogger("headless")


class _LateRpcAnswers(logging.Filter):
    """The Rust SDK logs an ERROR for every RPC answer that arrives after the caller gave
    up. The client has counted that RPC as failed already (its code is in the report)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "for unexpected RPC request" not in record.getMessage()


logging.getLogger("livekit").addFilter(_LateRpcAnswers())

FRAME_MS = 40  # microphone frames (the SDK sends 10 ms packets; fewer calls from Python)
FRAME_SAMPLES = RATE * FRAME_MS // 1000
MIC_QUEUE_MS = 100  # capture_frame then paces the microphone in real time
# like a browser's muted microphone, nothing is sent between phrases (a queued
# rtc.AudioSource would encode silence all session long: agent/paced_source.py)
RPC_TIMEOUT = 10.0
# The rtc SDK sends mute/unmute signals asynchronously: an unmute 3 ms after a mute
# reached livekit-server first, and the mute after it kept the track muted for the
# whole next turn (the agent heard 1.35 s of zeros; soak, livekit log). An unmute this
# soon after a mute waits out the rest of this gap.
MUTE_GAP_S = 0.05
POLL_S = 0.05
# the agent's audio arrives in 50 ms frames (fewer FFI events for many sessions), its
# level is kept per 10 ms, each stamped when its last sample arrived
LISTEN_FRAME_MS = 50
LEVEL_MS = 10
TOPIC_TRANSCRIPTION = "lk.transcription"
TOPIC_METRICS = "ptt.metrics"
TOPIC_LOG = "ptt.log"
TOPIC_TURN_AUDIO = "ptt.turn_audio"  # the agent's get_turn_audio answers: WAV byte streams
ATTR_STATE = "lk.agent.state"
ATTR_SEGMENT = "lk.segment_id"
ATTR_FINAL = "lk.transcription_final"
ATTR_TRACK = "lk.transcribed_track_id"


@dataclass
class RpcOutcome:
    """One RPC as the client saw it: code 0 is success."""

    method: str
    sent_at: float
    acked_at: float
    code: int = 0
    response: str = ""

    @property
    def rtt_ms(self) -> float:
        return round((self.acked_at - self.sent_at) * 1000, 1)

    @property
    def ok(self) -> bool:
        return self.code == 0


@dataclass
class Segment:
    """A transcription segment: the user's (transcribed by the agent) or the agent's."""

    id: str
    role: str  # "user" | "agent"
    first_at: float
    text: str = ""
    final: bool = False
    final_at: float | None = None


@dataclass
class Received:
    """What the agent sent, in arrival order."""

    metrics: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    # the sender of each metrics entry (its participant sid: a rebuilt agent has a new one)
    metrics_senders: list[str] = field(default_factory=list)
    turn_audio: dict[str, bytes] = field(default_factory=dict)  # byte stream id -> WAV
    logs: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    segments: dict[str, Segment] = field(default_factory=dict)
    states: list[tuple[float, str]] = field(default_factory=list)
    # the agent's audio, frame by frame, while the client listens (RoomClient.listen)
    levels: LevelLog = field(default_factory=LevelLog)


class RoomClient:
    """A participant with a microphone fed from PCM, connected to one room."""

    def __init__(self, grant: Grant) -> None:
        ffi_routes.install()  # several sessions share a generator process
        keep_native_logs_native()  # libwebrtc's ICE logging, an event a record
        self.grant = grant
        self.identity = grant.identity
        self.room = rtc.Room()
        self.got = Received()
        self.source = PacedAudioSource(RATE, 1, queue_size_ms=MIC_QUEUE_MS)
        self.mic: rtc.LocalAudioTrack | None = None
        self._muted_at = 0.0
        self._unmute: asyncio.TimerHandle | None = None
        self.mic_sid = ""
        # the agent's audio reaches Python only while a turn wants it (listen())
        self._listening = False
        self._ears: set[PausableAudioStream] = set()
        self._changed = asyncio.Condition()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False
        self.disconnect_reason: str | None = None

    # -- connection -----------------------------------------------------------
    async def connect(self) -> None:
        room = self.room
        room.on("participant_attributes_changed", self._on_attributes)
        room.on("participant_connected", lambda p: self._spawn(self._notify()))
        room.on("participant_disconnected", lambda p: self._spawn(self._notify()))
        room.on("track_published", self._on_published)
        room.on("track_subscribed", self._on_track)
        room.on("disconnected", self._on_disconnected)
        room.register_text_stream_handler(TOPIC_TRANSCRIPTION, self._on_transcription)
        room.register_text_stream_handler(
            TOPIC_METRICS, self._on_json(self.got.metrics, self.got.metrics_senders)
        )
        room.register_text_stream_handler(TOPIC_LOG, self._on_json(self.got.logs))
        room.register_byte_stream_handler(TOPIC_TURN_AUDIO, self._on_turn_audio)
        # like the page: subscribed only to what is measured (the agent's audio), the
        # microphone published muted and open only while the talk button is held
        await room.connect(self.grant.url, self.grant.token, rtc.RoomOptions(auto_subscribe=False))
        for participant in room.remote_participants.values():
            for publication in participant.track_publications.values():
                self._on_published(publication, participant)
        self.mic = rtc.LocalAudioTrack.create_audio_track(
            "microphone",
            self.source,  # type: ignore[arg-type]  # reads only its FFI handle
        )
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        pub = await room.local_participant.publish_track(self.mic, options)
        self.mic.mute()
        self.mic_sid = pub.sid

    async def aclose(self) -> None:
        self._closed = True
        with contextlib.suppress(Exception):
            await self.room.disconnect()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.source.aclose()

    @property
    def connected(self) -> bool:
        return self.room.isconnected()

    # -- the agent --------------------------------------------------------------
    def agent(self) -> rtc.RemoteParticipant | None:
        for p in self.room.remote_participants.values():
            if p.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
                return p
        return None

    def agent_attr(self, key: str) -> str | None:
        agent = self.agent()
        return None if agent is None else agent.attributes.get(key)

    async def wait_for(self, predicate: Callable[[], bool], within: float) -> bool:
        """Wait until `predicate()` holds, at most `within` s: re-checked on every event
        and every POLL_S (audio levels arrive without events)."""
        deadline = time.monotonic() + within
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), min(left, POLL_S))
        return True

    async def wait_agent_ready(self, within: float) -> bool:
        """An agent is in the room, listening, with its audio track subscribed."""

        def ready() -> bool:
            agent = self.agent()
            if agent is None or agent.attributes.get(ATTR_STATE) not in ("listening", None):
                return False
            return any(pub.subscribed for pub in agent.track_publications.values())

        return await self.wait_for(ready, within)

    # -- talking ----------------------------------------------------------------
    def set_mic(self, on: bool) -> None:
        """Unmute (press) or mute (after the release) the microphone, as the page does."""
        if self._unmute is not None:  # a pending unmute: superseded by this call
            self._unmute.cancel()
            self._unmute = None
        mic = self.mic
        if mic is None or mic.muted != on:
            return
        if not on:
            mic.mute()
            self._muted_at = time.monotonic()
            return
        wait = MUTE_GAP_S - (time.monotonic() - self._muted_at)
        if wait <= 0:
            mic.unmute()
        else:
            self._unmute = asyncio.get_running_loop().call_later(wait, self._unmute_now)

    def _unmute_now(self) -> None:
        self._unmute = None
        if self.mic is not None and self.mic.muted:
            self.mic.unmute()

    def listen(self, on: bool) -> None:
        """Take the agent's audio frames (levels, onsets) from now on, or stop taking
        them. The track stays subscribed, decoded and played out, as in the page; only
        its frames stop reaching Python between turns (20 a second per session, idle:
        agent/pausable_stream.py)."""
        self._listening = on
        for ear in list(self._ears):
            if on:
                ear.resume()
            else:
                ear.pause()

    async def rpc(self, method: str, payload: str = "") -> RpcOutcome:
        """Call `method` on the agent; an RpcError becomes its code, never an exception."""
        sent = time.monotonic()
        agent = self.agent()
        if agent is None:
            return RpcOutcome(method, sent, sent, code=-1, response="no agent in the room")
        try:
            response = await self.room.local_participant.perform_rpc(
                destination_identity=agent.identity,
                method=method,
                payload=payload,
                response_timeout=RPC_TIMEOUT,
            )
            return RpcOutcome(method, sent, time.monotonic(), response=response)
        except rtc.RpcError as e:
            return RpcOutcome(method, sent, time.monotonic(), code=e.code, response=e.message)

    async def speak(self, pcm: np.ndarray) -> tuple[float, float]:
        """Play int16 PCM into the microphone in real time; returns the client instants
        its first sample went out and its last sample was played out."""
        started = time.monotonic() + self.source.queued_duration
        for i in range(0, len(pcm), FRAME_SAMPLES):
            chunk = pcm[i : i + FRAME_SAMPLES]
            if len(chunk) < FRAME_SAMPLES:
                chunk = np.concatenate([chunk, np.zeros(FRAME_SAMPLES - len(chunk), np.int16)])
            frame = rtc.AudioFrame(chunk.tobytes(), RATE, 1, FRAME_SAMPLES)
            await self.source.capture_frame(frame)
        # capture_frame only queues: the last words are sent once the queue has played out
        await self.source.wait_for_playout()
        return started, time.monotonic()

    async def silence(self, seconds: float) -> None:
        """A quiet room into the microphone for `seconds`."""
        if seconds > 0:
            await self.speak(np.zeros(int(seconds * RATE), np.int16))

    # -- what comes back ----------------------------------------------------------
    def _spawn(self, coro: Any) -> None:
        if self._closed:
            coro.close()
            return
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_retrieve)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _on_attributes(self, changed: dict[str, str], participant: rtc.Participant) -> None:
        if ATTR_STATE in changed and participant.identity != self.identity:
            self.got.states.append((time.monotonic(), changed[ATTR_STATE]))
        self._spawn(self._notify())

    def _on_disconnected(self, reason: Any = None) -> None:
        self.disconnect_reason = str(reason)
        self._spawn(self._notify())

    def _on_published(
        self, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        agent = participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
        if agent and publication.kind == rtc.TrackKind.KIND_AUDIO:
            publication.set_subscribed(True)

    def _on_track(
        self,
        track: rtc.Track,
        _pub: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        if track.kind == rtc.TrackKind.KIND_AUDIO:
            self._spawn(self._read_levels(track))
        self._spawn(self._notify())

    async def _read_levels(self, track: rtc.Track) -> None:
        stream = PausableAudioStream(
            track, sample_rate=RATE, num_channels=1, frame_size_ms=LISTEN_FRAME_MS
        )
        self._ears.add(stream)
        if not self._listening:
            stream.pause()
        step = RATE * LEVEL_MS // 1000
        try:
            async for event in stream:
                now = time.monotonic()
                data = np.frombuffer(event.frame.data, dtype=np.int16)
                levels = window_levels(data, step)
                n = len(levels)
                for k, level in enumerate(levels):  # window k ended n - 1 - k windows ago
                    self.got.levels.add(now - (n - 1 - k) * LEVEL_MS / 1000, level)
        finally:
            self._ears.discard(stream)
            await stream.aclose()

    def _on_turn_audio(self, reader: rtc.ByteStreamReader, _sender: str) -> None:
        async def read() -> None:
            chunks = [bytes(chunk) async for chunk in reader]
            self.got.turn_audio[reader.info.stream_id] = b"".join(chunks)
            await self._notify()

        self._spawn(read())

    async def turn_audio(
        self, agent_turn: int, within: float = 5.0
    ) -> tuple[dict[str, Any], bytes] | None:
        """What the agent heard in its turn `agent_turn` (get_turn_audio): its description
        and the WAV file, or None when the agent has none to give."""
        outcome = await self.rpc("get_turn_audio", json.dumps({"turn": agent_turn}))
        if not outcome.ok:
            return None
        info = json.loads(outcome.response)
        stream = str(info.get("stream_id", ""))
        if not await self.wait_for(lambda: stream in self.got.turn_audio, within):
            return None
        return info, self.got.turn_audio.pop(stream)

    def _on_json(
        self, into: list[tuple[float, dict[str, Any]]], senders: list[str] | None = None
    ) -> Any:
        def handler(reader: rtc.TextStreamReader, sender: str) -> None:
            participant = self.room.remote_participants.get(sender)
            origin = f"{sender}/{participant.sid if participant else ''}"

            async def read() -> None:
                text = await reader.read_all()
                at = time.monotonic()
                for line in text.splitlines() or [text]:
                    with contextlib.suppress(ValueError):
                        value = json.loads(line)
                        if isinstance(value, dict):
                            into.append((at, value))
                            if senders is not None:
                                senders.append(origin)
                await self._notify()

            self._spawn(read())

        return handler

    def _on_transcription(self, reader: rtc.TextStreamReader, sender: str) -> None:
        self._spawn(self._read_transcription(reader, sender))

    async def _read_transcription(self, reader: rtc.TextStreamReader, sender: str) -> None:
        attrs = reader.info.attributes or {}
        seg_id = attrs.get(ATTR_SEGMENT) or reader.info.stream_id
        mine = sender == self.identity or (self.mic_sid and attrs.get(ATTR_TRACK) == self.mic_sid)
        role = "user" if mine else "agent"
        seg = self.got.segments.get(seg_id)
        if seg is None or seg.final:
            if seg is not None and seg.final:
                return  # a final segment is settled
            seg = self.got.segments[seg_id] = Segment(seg_id, role, time.monotonic())
        text = ""
        async for chunk in reader:
            text += chunk
            seg.text = text
            await self._notify()
        if (reader.info.attributes or {}).get(ATTR_FINAL) == "true":
            seg.final, seg.final_at = True, time.monotonic()
        await self._notify()


def _retrieve(task: asyncio.Task[Any]) -> None:
    """A reader that broke off: a stream cut by a disconnect is expected, anything else
    is logged (never "Task exception was never retrieved")."""
    if task.cancelled() or (exc := task.exception()) is None:
        return
    if isinstance(exc, rtc.StreamError):
        logger.debug("stream broke off", extra={"error": str(exc)})
    else:
        logger.warning("reader failed", exc_info=exc)
