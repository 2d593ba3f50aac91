"""Push-to-talk turn control: the RPC methods and the rules between them.

Methods: `start_turn`, `end_turn`, `cancel_turn` (LiveKit's PTT convention) and
`pause`, `resume`, `get_turn_audio` (ours). Payload: empty or a JSON object.

`start_turn`, `end_turn` and `cancel_turn` answer `{"turn": N}`: the agent's number for
the turn, as in `ptt.metrics`, so a caller can tell its turn's reports from an earlier
one's that arrive late.

Arbitration between participants: first come, first served. The participant
whose `start_turn` opened the turn holds it until their own `end_turn` or
`cancel_turn`, or until they leave the room; a `start_turn` from anyone else
meanwhile is refused with TURN_BUSY. The holder pressing again restarts the turn.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from livekit.agents import AgentSession

from .attribute_writer import AttributeWriter
from .errors import InvalidPayload, NoOpenTurn, NotReady, NotTurnOwner, Paused, PttError, TurnBusy
from .ffi_acks import current_bound, detached_from_rpc
from .stt_reset import ResettableSTT
from .timings import TurnTimings
from .turn_audio import TOPIC_TURN_AUDIO, TurnAudioStore, answer_turn_audio

logger = logging.getLogger("ptt-agent.ptt")

ATTR_PAUSED = "ptt.paused"
ATTR_TURN_OWNER = "ptt.turn_owner"
TOPIC_METRICS = "ptt.metrics"

TRANSCRIPT_TIMEOUT = 3.0
STT_FLUSH_DURATION = 1.0


class RoomLink(Protocol):
    """What the controller needs from the room (a real Room in the worker)."""

    def listen_to(self, identity: str) -> None: ...

    async def set_attributes(self, attributes: dict[str, str]) -> None: ...

    async def publish(self, topic: str, payload: dict[str, Any]) -> None: ...

    async def send_bytes(
        self, data: bytes, *, to: str, topic: str, stream_id: str, attributes: dict[str, str]
    ) -> None: ...


@dataclass
class _Turn:
    owner: str
    timings: TurnTimings


def parse_payload(payload: str) -> dict[str, Any]:
    """An RPC payload: empty, or a JSON object."""
    if not payload.strip():
        return {}
    try:
        data = json.loads(payload)
    except json.JSONDecodeError as e:
        raise InvalidPayload(f"payload is not JSON: {e.msg}") from e
    if not isinstance(data, dict):
        raise InvalidPayload("payload must be empty or a JSON object")
    return data


class PttController:
    """Owns the turn state of one AgentSession and answers the PTT RPCs."""

    def __init__(
        self,
        *,
        session: AgentSession,
        stt: ResettableSTT,
        room: RoomLink,
        transcript_timeout: float = TRANSCRIPT_TIMEOUT,
        turn_audio: TurnAudioStore | None = None,
    ) -> None:
        self._session = session
        # how long a commit waits for the STT's final; an STT that dies after the release
        # must be back and have answered the replayed turn within it
        self._transcript_timeout = transcript_timeout
        self._stt = stt
        self._room = room
        # turn RPCs answer without waiting for their attributes (agent/attribute_writer.py)
        self._attrs = AttributeWriter(room.set_attributes)
        self._turn: _Turn | None = None
        self._paused = False
        self._turn_count = 0
        self._awaiting_audio: TurnTimings | None = None
        self._replying: TurnTimings | None = None  # the turn whose reply is under way
        self._pending_commit: asyncio.Future[str] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.turn_audio = turn_audio or TurnAudioStore()
        self._hearing: TurnTimings | None = None  # the turn whose audio the STT gets now
        # called with True when a turn opens and False when it closes (input_pause.py)
        self.on_turn_change: Callable[[bool], None] | None = None
        stt.on_turn_ready = self._on_stt_ready
        stt.on_fed = lambda frame, preroll: self.turn_audio.fed(frame, preroll=preroll)
        session.on("agent_state_changed", self._on_agent_state)
        session.on("user_input_transcribed", self._on_transcribed)
        for model in (session.llm, session.tts):  # their own events, any provider's
            subscribe = getattr(model, "on", None)
            if callable(subscribe):
                subscribe("metrics_collected", self._on_metrics)

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def turn_owner(self) -> str | None:
        return self._turn.owner if self._turn else None

    @property
    def turn_count(self) -> int:
        return self._turn_count

    def handlers(self) -> dict[str, Callable[[str, str], Awaitable[str]]]:
        """RPC method name → handler(caller_identity, payload)."""
        return {
            "start_turn": self.start_turn,
            "end_turn": self.end_turn,
            "cancel_turn": self.cancel_turn,
            "pause": self.pause,
            "resume": self.resume,
            "get_turn_audio": self.get_turn_audio,
        }

    async def start_turn(self, caller: str, payload: str) -> str:
        t0 = time.monotonic()
        parse_payload(payload)
        self._check_running()
        if self._paused:
            raise Paused("agent is paused; resume it before talking")
        if self._turn is not None and self._turn.owner != caller:
            raise TurnBusy(f"{self._turn.owner} holds the turn")
        self._turn_count += 1
        timings = TurnTimings(turn=self._turn_count, owner=caller, pressed_at=t0)
        self._open_turn(_Turn(owner=caller, timings=timings))  # claimed before any await
        self.turn_audio.start(self._turn_count)
        self._hearing = timings
        await self._settle_commit()
        self._interrupt()
        self._room.listen_to(caller)
        timings.strategy = self._stt.strategy
        self._stt.open_turn(requested_at=t0)
        self._session.clear_user_turn()
        timings.record_rpc("start_turn", t0, time.monotonic())
        self._attrs.post({ATTR_TURN_OWNER: caller})
        logger.info("turn started", extra={"turn": timings.turn, "owner": caller})
        return _turn_answer(timings.turn)

    async def end_turn(self, caller: str, payload: str) -> str:
        t0 = time.monotonic()
        parse_payload(payload)
        self._check_running()
        if self._paused:
            raise Paused("agent is paused; the turn was cancelled")
        turn = self._take_turn(caller, "end")
        self._stt.close_turn()
        timings = turn.timings
        timings.released_at = t0
        fut = self._session.commit_user_turn(
            transcript_timeout=self._transcript_timeout, stt_flush_duration=STT_FLUSH_DURATION
        )
        fut.add_done_callback(lambda f: self._on_committed(timings, f))
        self._pending_commit = fut
        timings.record_rpc("end_turn", t0, time.monotonic())
        self._attrs.post({ATTR_TURN_OWNER: ""})
        logger.info("turn committed", extra={"turn": timings.turn, "owner": caller})
        return _turn_answer(timings.turn)

    async def cancel_turn(self, caller: str, payload: str) -> str:
        parse_payload(payload)
        self._check_running()
        if self._turn is None:
            return "ok: no open turn"
        turn = self._take_turn(caller, "cancel")
        self._cancel(turn)
        self._attrs.post({ATTR_TURN_OWNER: ""})
        return _turn_answer(turn.timings.turn)

    async def pause(self, caller: str, payload: str) -> str:
        parse_payload(payload)
        self._check_running()
        if not self._paused:
            self._paused = True
            await self._settle_commit()
            self._interrupt()
            if self._turn is not None:
                turn = self._close_turn()
                self._cancel(turn)
            self._session.input.set_audio_enabled(False)
            self._session.output.set_audio_enabled(False)
            logger.info("paused", extra={"by": caller})
        await self._visible({ATTR_PAUSED: "1", ATTR_TURN_OWNER: ""})
        return "paused"

    async def resume(self, caller: str, payload: str) -> str:
        parse_payload(payload)
        self._check_running()
        if self._paused:
            self._paused = False
            self._session.input.set_audio_enabled(True)
            self._session.output.set_audio_enabled(True)
            logger.info("resumed", extra={"by": caller})
        await self._visible({ATTR_PAUSED: "0"})
        return "resumed"

    async def get_turn_audio(self, caller: str, payload: str) -> str:
        """Send `caller` the audio turn `turn` fed the STT (pre-roll and turn, as a WAV
        byte stream on `ptt.turn_audio`); the answer names the stream and describes it.
        Refused with TURN_UNKNOWN (no such turn) or TURN_EVICTED (no longer kept)."""
        h = self._hearing
        heard = h.turn if h is not None and h.final_at is None and not h.cancelled else None
        answer = answer_turn_audio(self.turn_audio, parse_payload(payload), still_heard=heard)
        self._spawn(
            self._room.send_bytes(
                answer.wav,
                to=caller,
                topic=TOPIC_TURN_AUDIO,
                stream_id=answer.stream_id,
                attributes=answer.attributes,
            )
        )
        return answer.response

    def participant_left(self, identity: str) -> None:
        """The turn holder left the room: their turn is cancelled."""
        if self._turn is not None and self._turn.owner == identity:
            turn = self._close_turn()
            self._cancel(turn)
            self._attrs.post({ATTR_TURN_OWNER: ""})

    async def aclose(self) -> None:
        await self._attrs.aclose()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- internals ------------------------------------------------------------
    async def _visible(self, attributes: dict[str, str]) -> None:
        """Post `attributes` and wait for their write, within the RPC's bound: the page
        shows paused from the attribute, so pause and resume answer once it is written."""
        await asyncio.wait({self._attrs.post(attributes)}, timeout=current_bound())

    def _check_running(self) -> None:
        if self._session._activity is None:
            raise NotReady("agent session is not running yet")

    async def _settle_commit(self) -> None:
        """Let the last committed turn reach the chat context before anything clears it.

        `clear_user_turn()` cancels a pending end-of-turn task, so a press right after a
        release (or a pause) would silently drop the turn just committed. Waiting is
        bounded by the transcript timeout; the pre-roll keeps the new turn's first words.
        """
        fut, self._pending_commit = self._pending_commit, None
        if fut is None:
            return
        await asyncio.wait({fut}, timeout=self._transcript_timeout + 1)
        if fut.done() and not fut.cancelled() and fut.exception() is None and not fut.result():
            return  # an empty turn: nothing to keep
        # framework internals (livekit-agents 1.8): the end-of-turn task adds the turn
        recognition = getattr(self._session._activity, "_audio_recognition", None)
        eou = getattr(recognition, "_end_of_turn_task", None)
        if eou is not None and not eou.done():
            await asyncio.wait({eou}, timeout=2.0)

    def _open_turn(self, turn: _Turn) -> None:
        was_open, self._turn = self._turn is not None, turn
        if not was_open and self.on_turn_change is not None:
            self.on_turn_change(True)

    def _close_turn(self) -> _Turn:
        turn, self._turn = self._turn, None
        assert turn is not None
        if self.on_turn_change is not None:
            self.on_turn_change(False)
        return turn

    def _take_turn(self, caller: str, action: str) -> _Turn:
        if self._turn is None:
            raise NoOpenTurn(f"no open turn to {action}")
        if self._turn.owner != caller:
            raise NotTurnOwner(f"{self._turn.owner} holds the turn, not {caller}")
        turn = self._close_turn()
        return turn

    def _cancel(self, turn: _Turn) -> None:
        self._stt.close_turn()
        self.turn_audio.stop()
        self._session.clear_user_turn()
        turn.timings.cancelled = True
        logger.info("turn cancelled", extra={"turn": turn.timings.turn, "owner": turn.owner})
        self._spawn(self._room.publish(TOPIC_METRICS, turn.timings.to_dict()))

    def _interrupt(self) -> None:
        fut = self._session.interrupt(force=True)
        fut.add_done_callback(_retrieve)

    def _on_stt_ready(self, at: float, preroll: float) -> None:
        if self._turn is not None and self._turn.timings.stt_ready_at is None:
            self._turn.timings.stt_ready_at = at
            self._turn.timings.preroll_ms = round(preroll * 1000, 1)

    def _on_committed(self, timings: TurnTimings, fut: asyncio.Future[str]) -> None:
        if fut.cancelled():
            return
        if (exc := fut.exception()) is not None:
            logger.warning("turn commit failed", extra={"turn": timings.turn, "error": repr(exc)})
            return
        timings.final_at = time.monotonic()
        timings.transcript = fut.result()
        logger.info("turn transcript", extra=timings.to_dict())
        if timings.transcript.strip():
            self._awaiting_audio = self._replying = timings
        self._spawn(self._room.publish(TOPIC_METRICS, timings.to_dict()))

    def _on_agent_state(self, ev: Any) -> None:
        timings = self._awaiting_audio
        if ev.new_state == "speaking" and timings is not None:
            self._awaiting_audio = None
            timings.first_audio_at = time.monotonic()
            self._spawn(self._room.publish(TOPIC_METRICS, timings.to_dict()))
        elif ev.old_state == "speaking" and self._replying is not None:
            timings, self._replying = self._replying, None
            if timings.first_audio_at is not None:  # its reply played out or was cut
                timings.reply_done_at = time.monotonic()
                self._spawn(self._room.publish(TOPIC_METRICS, timings.to_dict()))

    def _on_transcribed(self, ev: Any) -> None:
        """The user's interim transcripts of the turn being heard, on the agent's clock."""
        timings = self._hearing
        if timings is not None and not getattr(ev, "is_final", True):
            timings.add_interim(time.monotonic())

    def _on_metrics(self, m: Any) -> None:
        """The LLM's and the TTS's metrics (a user's cloud models report the same): each
        arrives when its step ended, with its duration and the time to its first output."""
        timings = self._replying
        if timings is None:
            return
        ttft, ttfb = getattr(m, "ttft", None), getattr(m, "ttfb", None)
        start = time.monotonic() - float(getattr(m, "duration", 0.0) or 0.0)
        if ttft is not None and ttft >= 0 and timings.reply_text_at is None:
            timings.reply_text_at = start + ttft
        elif ttfb is not None and ttfb >= 0 and timings.tts_first_chunk_at is None:
            timings.tts_first_chunk_at = start + ttfb

    def playout_started(self, at: float) -> None:
        """The room's audio source handed its first frame after a silence to WebRTC."""
        timings = self._replying
        if timings is not None and timings.playout_at is None and timings.first_audio_at:
            timings.playout_at = at

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        # it outlives the RPC (or the done callback) it starts from: not bound by its
        # deadline (seen: reports published from a commit's callback given up on at 0.9 s)
        task = asyncio.get_running_loop().create_task(coro, context=detached_from_rpc())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_retrieve)


def _retrieve(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled() and (exc := fut.exception()) is not None:
        logger.warning("background step failed", extra={"error": repr(exc)})


def _turn_answer(turn: int) -> str:
    return json.dumps({"turn": turn})


def as_rpc_error(e: Exception) -> PttError:
    """Anything unexpected at the RPC boundary becomes a PttError (INTERNAL)."""
    return e if isinstance(e, PttError) else PttError(f"internal error: {type(e).__name__}")
