"""PTT turns as a person does them (press, speak, release; cancel; silence), measured on
the client's clock: RPC round trips, release -> committed transcript, release -> first
audible agent audio, and the transcript against the phrase said."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from .room import RoomClient, RpcOutcome
from .speech import synthesize
from .stats import Correctness, compare

COMMIT_TIMEOUT = 8.0  # the agent's transcript timeout (3 s) and a margin
REPLY_TIMEOUT = 10.0  # release -> first audible reply
REPLY_END_TIMEOUT = 30.0
QUIET_S = 0.6  # this long without audible agent audio ends a reply
AGENT_FIGURES = (
    "press_to_stt_ready_ms",
    "release_to_final_ms",
    "release_to_first_audio_ms",
    "stages_ms",  # the reply's stages on the agent's clock (agent/timings.py)
)


@dataclass
class TurnResult:
    """One turn: what was said, what the agent committed and replied, and the timings."""

    identity: str
    action: str
    phrase: str
    expected: str | None  # None: the transcript is not judged
    pressed_at: float
    start: RpcOutcome | None = None
    end: RpcOutcome | None = None  # end_turn, or cancel_turn for a cancelled turn
    speech: tuple[float, float] | None = None  # first sample sent, last sample played out
    transcript: str | None = None  # the committed transcript (None: none known)
    committed_at: float | None = None
    audio_at: float | None = None  # first audible agent audio after the release
    reply_done_at: float | None = None
    reply: str = ""
    agent: dict[str, Any] = field(default_factory=dict)  # the agent's own figures
    correctness: Correctness | None = None
    failures: list[str] = field(default_factory=list)
    metrics_mark: int = field(default=0, repr=False)  # ptt.metrics received before the press

    @property
    def agent_turn(self) -> int | None:
        """The agent's number for this turn, from its start_turn answer ({"turn": N};
        None for an agent that answers otherwise)."""
        return _answered_turn(self.start)

    @property
    def released_at(self) -> float | None:
        return self.end.sent_at if self.end else None

    def _since_release(self, at: float | None) -> float | None:
        rel = self.released_at
        return None if at is None or rel is None else round(max(0.0, at - rel) * 1000, 1)

    @property
    def release_to_transcript_ms(self) -> float | None:
        return self._since_release(self.committed_at)

    @property
    def release_to_audio_ms(self) -> float | None:
        return self._since_release(self.audio_at)

    @property
    def ok(self) -> bool:
        return not self.failures

    def fail(self, why: str) -> None:
        self.failures.append(why)

    def to_dict(self) -> dict[str, Any]:
        def at(t: float | None) -> float | None:
            return None if t is None else round((t - self.pressed_at) * 1000, 1)

        return {
            "identity": self.identity,
            "action": self.action,
            "phrase": self.phrase,
            "expected": self.expected,
            "transcript": self.transcript,
            "reply": self.reply,
            "ok": self.ok,
            "failures": list(self.failures),
            "correctness": self.correctness.to_dict() if self.correctness else None,
            "start_turn": _rpc(self.start),
            "end_turn": _rpc(self.end),
            "release_to_transcript_ms": self.release_to_transcript_ms,
            "release_to_audio_ms": self.release_to_audio_ms,
            "agent": dict(self.agent),
            # client instants, ms after the press
            "timeline": {
                "speech_start": at(self.speech[0]) if self.speech else None,
                "speech_end": at(self.speech[1]) if self.speech else None,
                "release": at(self.released_at),
                "committed": at(self.committed_at),
                "audio": at(self.audio_at),
                "reply_done": at(self.reply_done_at),
            },
        }


def _answered_turn(outcome: RpcOutcome | None) -> int | None:
    if outcome is None or not outcome.ok:
        return None
    try:
        value = json.loads(outcome.response)
    except (TypeError, ValueError):
        return None
    turn = value.get("turn") if isinstance(value, dict) else None
    return turn if isinstance(turn, int) and not isinstance(turn, bool) else None


def _turn_key(
    senders: list[str], got: list[tuple[float, dict[str, Any]]], i: int
) -> tuple[str, Any]:
    """Which agent (participant sid: a rebuilt agent counts turns from 1 again) and turn."""
    return (senders[i] if i < len(senders) else "", got[i][1].get("turn"))


def _rpc(o: RpcOutcome | None) -> dict[str, Any] | None:
    if o is None:
        return None
    return {"method": o.method, "code": o.code, "rtt_ms": o.rtt_ms, "response": o.response}


class Talker:
    """Turns for one RoomClient. The agent's turns are matched by owner and turn number
    in `ptt.metrics`; an agent that publishes none is judged by its transcripts."""

    def __init__(self, client: RoomClient) -> None:
        self.client = client

    # -- the parts of a turn ------------------------------------------------------
    async def press(
        self, phrase: str, *, lead_ms: float = 200, tail_ms: float = 300, action: str = "say"
    ) -> TurnResult:
        """start_turn, then (`lead_ms` after the press, whatever the ack) the phrase and
        `tail_ms` of quiet. The turn is still held when this returns."""
        c = self.client
        pcm = synthesize(phrase) if phrase else None  # made before the finger goes down
        turn = TurnResult(c.identity, action, phrase, None, time.monotonic())
        turn.metrics_mark = len(c.got.metrics)
        c.set_mic(True)
        start = asyncio.ensure_future(c.rpc("start_turn"))
        await asyncio.sleep(lead_ms / 1000)
        if pcm is not None:
            turn.speech = await c.speak(pcm)
        await c.silence(tail_ms / 1000)
        turn.start = await start
        if not turn.start.ok:
            c.set_mic(False)
        return turn

    async def release(
        self, turn: TurnResult, expected: str | None, *, reply_end: bool = True
    ) -> TurnResult:
        """end_turn, then the committed transcript and (when there is one) the reply:
        its first audible frame, and with `reply_end` its end."""
        turn.expected = expected
        try:
            if turn.start is None or not turn.start.ok:
                return turn
            # the agent's audio from before end_turn is sent (no reply can come earlier)
            # until the reply is measured
            self.client.listen(True)
            turn.end = await self.client.rpc("end_turn")
            self.client.set_mic(False)
            if not turn.end.ok:
                return turn
            await self._committed(turn)
            if turn.transcript:
                await self._reply(turn, reply_end)
            self._judge(turn)
            return turn
        finally:
            self.client.listen(False)

    async def say(
        self,
        phrase: str,
        *,
        expected: str | None = None,
        judged: bool = True,
        reply_end: bool = True,
        **kw: Any,
    ) -> TurnResult:
        """press + release; the transcript must be `expected` (default: the phrase)
        unless not `judged`."""
        want = (phrase if expected is None else expected) if judged else None
        return await self.release(await self.press(phrase, **kw), want, reply_end=reply_end)

    async def cancel(
        self, phrase: str, *, fraction: float = 0.5, lead_ms: float = 200
    ) -> TurnResult:
        """Press, speak, and cancel the turn `fraction` into the phrase (the speaker
        finishes the phrase regardless): nothing of it may be committed or answered."""
        c = self.client
        pcm = synthesize(phrase)
        turn = TurnResult(c.identity, "cancel", phrase, None, time.monotonic())
        turn.metrics_mark = len(c.got.metrics)
        c.set_mic(True)
        start = asyncio.ensure_future(c.rpc("start_turn"))
        await asyncio.sleep(lead_ms / 1000)
        cut = int(len(pcm) * fraction)
        first, _ = await c.speak(pcm[:cut])
        turn.start = await start  # the page sends cancel_turn after start_turn's answer
        cancel = asyncio.ensure_future(c.rpc("cancel_turn"))
        cancel.add_done_callback(lambda _: c.set_mic(False))  # the page mutes on the answer
        _, last = await c.speak(pcm[cut:])  # the speaker goes on, into a muted microphone
        turn.speech, turn.end = (first, last), await cancel
        if turn.start.ok and turn.end.ok:
            entry = await self._metrics_for(
                turn.metrics_mark, lambda m: bool(m.get("cancelled")), 3.0, turn.agent_turn
            )
            if entry is not None:
                turn.agent.update({k: entry[1].get(k) for k in AGENT_FIGURES})
            elif self._agent_has_metrics():
                turn.fail("the agent published no metrics for the cancelled turn")
        replied = await c.wait_for(lambda: self._reply_segments(turn) != [], 1.0)
        if replied:
            turn.fail(f"a reply to a cancelled turn: {self._reply_text(turn)!r}")
        return turn

    async def rapid(self, count: int, *, interval_ms: float) -> list[RpcOutcome]:
        """`count` press/release pairs in a burst, each RPC sent after the last answered
        (the page queues them the same way)."""
        outcomes = []
        for _ in range(count):
            self.client.set_mic(True)
            outcomes.append(await self.client.rpc("start_turn"))
            outcomes.append(await self.client.rpc("end_turn"))
            self.client.set_mic(False)
            await asyncio.sleep(interval_ms / 1000)
        return outcomes

    # -- waiting for the agent ------------------------------------------------------
    def _agent_has_metrics(self) -> bool:
        c = self.client
        return bool(c.got.metrics) or c.agent_attr("ptt.instance") is not None

    async def _metrics_for(
        self, mark: int, pred: Any, within: float, agent_turn: int | None = None
    ) -> tuple[float, dict[str, Any]] | None:
        """The first metrics entry after `mark` owned by this client satisfying `pred`:
        of agent turn `agent_turn` when the agent named it in its start_turn answer,
        else of a turn the agent had not reported before `mark`. (The agent publishes a
        turn again at its first audio and its reply's end; after a barge-in those of the
        previous turn arrive after the next press, and after a burst of taps the last
        tap's only report does.)"""
        c = self.client
        got, senders = c.got.metrics, c.got.metrics_senders
        reported = {_turn_key(senders, got, i) for i in range(min(mark, len(got)))}
        found: list[tuple[float, dict[str, Any]]] = []

        def check() -> bool:
            for i in range(mark, len(got)):
                entry = got[i]
                if entry[1].get("owner") != c.identity or not pred(entry[1]):
                    continue
                key = _turn_key(senders, got, i)
                if agent_turn is not None:
                    if key[1] == agent_turn:
                        found.append(entry)
                        return True
                elif key[1] is None or key not in reported:
                    found.append(entry)
                    return True
            return False

        await c.wait_for(check, within)
        return found[0] if found else None

    async def _committed(self, turn: TurnResult) -> None:
        if self._agent_has_metrics():
            entry = await self._metrics_for(
                turn.metrics_mark,
                lambda m: m.get("release_to_final_ms") is not None,
                COMMIT_TIMEOUT,
                turn.agent_turn,
            )
            if entry is None:
                turn.fail(f"no committed transcript within {COMMIT_TIMEOUT:g} s")
                return
            turn.committed_at, data = entry
            turn.transcript = str(data.get("transcript", ""))
            turn.agent["turn"] = data.get("turn")
            turn.agent.update({k: data.get(k) for k in AGENT_FIGURES})
            return
        # an agent without ptt.metrics: the user's finals of this turn, committed once
        # the agent starts its reply (or the wait ends)
        c = self.client
        await c.wait_for(lambda: bool(self._reply_segments(turn)), COMMIT_TIMEOUT)
        finals = [
            s
            for s in c.got.segments.values()
            if s.role == "user" and s.final and s.final_at and s.final_at >= turn.pressed_at
        ]
        turn.transcript = " ".join(s.text.strip() for s in finals).strip()
        release = turn.released_at or turn.pressed_at
        turn.committed_at = max([release, *(s.final_at or release for s in finals)])

    def _reply_segments(self, turn: TurnResult) -> list[Any]:
        since = turn.released_at or turn.pressed_at
        segs = self.client.got.segments.values()
        return [s for s in segs if s.role == "agent" and s.first_at >= since]

    def _reply_text(self, turn: TurnResult) -> str:
        return " ".join(s.text.strip() for s in self._reply_segments(turn)).strip()

    async def _reply(self, turn: TurnResult, reply_end: bool) -> None:
        c, since = self.client, turn.released_at or turn.pressed_at
        levels = c.got.levels
        await c.wait_for(lambda: levels.onset_after(since) is not None, REPLY_TIMEOUT)
        turn.audio_at = levels.onset_after(since)
        if turn.audio_at is None:
            turn.fail(f"no audible reply within {REPLY_TIMEOUT:g} s of the release")
            return
        onset = turn.audio_at
        if not reply_end:
            turn.reply = self._reply_text(turn)
            return
        await c.wait_for(lambda: levels.quiet_since(onset, QUIET_S) is not None, REPLY_END_TIMEOUT)
        turn.reply_done_at = levels.quiet_since(onset, QUIET_S)
        turn.reply = self._reply_text(turn)
        agent_turn = turn.agent.get("turn")
        if agent_turn is not None:  # the second metrics message carries the first audio
            for _, data in reversed(c.got.metrics):
                if data.get("turn") == agent_turn and data.get("owner") == c.identity:
                    turn.agent.update({k: data.get(k) for k in AGENT_FIGURES})
                    break

    def _judge(self, turn: TurnResult) -> None:
        if turn.expected is None or turn.transcript is None:
            return
        turn.correctness = compare(turn.expected, turn.transcript)
        if not turn.correctness.exact:
            turn.fail(f"heard {turn.transcript!r}, said {turn.expected!r}")
