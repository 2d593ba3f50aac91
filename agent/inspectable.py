"""The turn inspector's agent side, for any livekit-agents push-to-talk agent.

Two lines around a user's own `AgentSession` give the console's turn inspector what the
bundled agent gives it:

    from agent.inspectable import Inspectable

    await session.start(agent=MyAgent(), room=ctx.room)
    inspectable = Inspectable(session, ctx.room)  # after start, before the first turn
    ctx.add_shutdown_callback(inspectable.aclose)

- **per-turn instants** on `ptt.metrics` (docs/console.md: `turn`, `owner`,
  `transcript`, `instants_ms` on the agent's clock, `stages_ms`, ...), from an RPC
  interceptor around the agent's own `start_turn` / `end_turn` / `cancel_turn` handlers
  (they are not replaced) and the session's events;
- **what the agent heard**: the audio its session takes in while a turn is open (a
  pass-through around `session.input.audio`), kept for the last turns and sent by the
  RPC `get_turn_audio` as the bundled agent does;
- **log records**: WARNING and above on `ptt.log`, the ERROR count in `ptt.errors`.

The agent's own behaviour is untouched; the helper only observes and publishes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from livekit import rtc
from livekit.agents import AgentSession
from livekit.agents.voice import io

from .ffi_acks import AckWaits
from .log_forward import RoomLogForwarder
from .ptt import TOPIC_METRICS, as_rpc_error, parse_payload
from .timings import TurnTimings
from .turn_audio import (
    ATTR_VERSIONS,
    TOPIC_TURN_AUDIO,
    TurnAudioStore,
    agent_versions,
    answer_turn_audio,
)

logger = logging.getLogger("ptt-agent.inspectable")

TURN_METHODS = ("start_turn", "end_turn", "cancel_turn")


class _HeardInput(io.AudioInput):
    """The session's audio input, passed through; each frame is offered to `on_frame`."""

    def __init__(self, source: io.AudioInput, on_frame: Callable[[rtc.AudioFrame], None]):
        super().__init__(label="ptt-inspectable", source=source)
        self._on_frame = on_frame

    async def __anext__(self) -> rtc.AudioFrame:
        frame = await super().__anext__()
        self._on_frame(frame)
        return frame


class _TurnObserver(rtc.RpcInterceptor):
    def __init__(self, owner: Inspectable) -> None:
        self._owner = owner

    async def intercept_incoming(self, invocation: Any, call_next: Any) -> Any:
        method = getattr(invocation, "method", None)
        if method not in TURN_METHODS:
            return await call_next(invocation)
        received = time.monotonic()
        result = await call_next(invocation)  # the agent's own handler; its errors pass
        self._owner.turn_rpc(method, invocation.caller_identity, received)
        return result


class Inspectable:
    """Observes one session's turns and publishes what the turn inspector reads."""

    def __init__(self, session: AgentSession, room: rtc.Room, *, keep: int = 8) -> None:
        self._session = session
        self._room = room
        self._acks = AckWaits()
        self.turn_audio = TurnAudioStore(keep)
        self._count = 0
        self._open: TurnTimings | None = None  # between start_turn and end/cancel_turn
        self._hearing: TurnTimings | None = None  # its finals count until the reply starts
        self._replying: TurnTimings | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        local = room.local_participant
        self._observer = _TurnObserver(self)
        local.add_rpc_interceptor(self._observer)
        local.register_rpc_method("get_turn_audio", self._get_turn_audio)
        if session.input.audio is not None:
            session.input.audio = _HeardInput(session.input.audio, self._frame)
        session.on("user_input_transcribed", self._on_transcribed)
        session.on("agent_state_changed", self._on_agent_state)
        self._forwarder = RoomLogForwarder(publish=self._send_text, set_attributes=self._attrs)
        logging.getLogger().addHandler(self._forwarder)
        self._spawn(self._attrs({ATTR_VERSIONS: agent_versions()}))

    # -- what the session does -------------------------------------------------------
    def turn_rpc(self, method: str, caller: str, received: float) -> None:
        """The agent answered `method` (received at `received`) without an error."""
        if method == "start_turn":
            self._count += 1
            self._open = self._hearing = TurnTimings(
                turn=self._count, owner=caller, pressed_at=received
            )
            self.turn_audio.start(self._count)
        elif method == "end_turn" and self._open is not None:
            turn, self._open = self._open, None
            turn.released_at = received
            self.turn_audio.stop()
            if turn.transcript:  # its final came while the turn was held (a pause first)
                self._heard(turn, received)
        elif method == "cancel_turn" and self._open is not None:
            turn, self._open, self._hearing = self._open, None, None
            turn.cancelled = True
            self.turn_audio.stop()
            self._publish(turn)

    def _frame(self, frame: rtc.AudioFrame) -> None:
        if self._open is not None:
            self.turn_audio.fed(frame)

    def _on_transcribed(self, ev: Any) -> None:
        """A turn's finals, before or after its release, make its transcript; it is
        reported at the release, or at a final after it (until the reply starts)."""
        turn = self._hearing
        if turn is None:
            return
        if not ev.is_final:
            turn.add_interim(time.monotonic())
            return
        if not ev.transcript and turn.final_at is not None:
            return  # the release's flush found nothing more
        turn.transcript = f"{turn.transcript} {ev.transcript}".strip()
        if turn.released_at is not None:
            self._heard(turn, time.monotonic())

    def _heard(self, turn: TurnTimings, at: float) -> None:
        turn.final_at = at
        self._replying = turn
        self._publish(turn)

    def _on_agent_state(self, ev: Any) -> None:
        turn = self._replying
        if turn is None:
            return
        if ev.new_state == "speaking" and turn.first_audio_at is None:
            turn.first_audio_at = time.monotonic()
            if self._hearing is turn:
                self._hearing = None  # later finals are the next turn's
            self._publish(turn)
        elif ev.old_state == "speaking" and turn.first_audio_at is not None:
            turn.reply_done_at = time.monotonic()
            self._replying = None
            self._publish(turn)

    # -- what it publishes -------------------------------------------------------------
    async def _get_turn_audio(self, data: rtc.RpcInvocationData) -> str:
        try:
            h = self._open
            answer = answer_turn_audio(
                self.turn_audio,
                parse_payload(data.payload),
                still_heard=h.turn if h is not None else None,
            )
        except Exception as e:
            raise as_rpc_error(e).to_rpc_error() from None
        self._spawn(
            self._room.local_participant.send_bytes(
                answer.wav,
                topic=TOPIC_TURN_AUDIO,
                name=f"{answer.stream_id}.wav",
                mime_type="audio/wav",
                destination_identities=[data.caller_identity],
                attributes=answer.attributes,
                stream_id=answer.stream_id,
            )
        )
        return answer.response

    def _publish(self, turn: TurnTimings) -> None:
        self._spawn(self._send_text(TOPIC_METRICS, json.dumps(turn.to_dict())))

    async def _send_text(self, topic: str, text: str) -> None:
        local = self._room.local_participant
        await self._acks.wait("send_text", local.send_text(text, topic=topic))

    async def _attrs(self, attributes: dict[str, str]) -> None:
        local = self._room.local_participant
        await self._acks.wait("set_attributes", local.set_attributes(attributes))

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_retrieve)

    async def aclose(self, *_reason: object) -> None:
        """Stop observing and publishing (a job's shutdown callback)."""
        self._room.local_participant.remove_rpc_interceptor(self._observer)
        logging.getLogger().removeHandler(self._forwarder)
        await self._forwarder.aclose()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _retrieve(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled() and (exc := fut.exception()) is not None:
        logger.warning("publishing for the inspector failed", extra={"error": repr(exc)})
