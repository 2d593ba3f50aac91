"""agent/inspectable.py's turn reports: which finals make a turn's transcript, and when
it is reported. The session and room are named fakes (only the calls the helper makes);
the helper's logic between them is the real one."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import pytest

from agent.inspectable import Inspectable
from agent.ptt import TOPIC_METRICS

pytestmark = pytest.mark.unit


class FakeLocalParticipant:
    """The rtc.LocalParticipant calls the helper makes; metrics are kept as sent."""

    def __init__(self) -> None:
        self.metrics: list[dict[str, Any]] = []

    def add_rpc_interceptor(self, _interceptor: object) -> None: ...

    def remove_rpc_interceptor(self, _interceptor: object) -> None: ...

    def register_rpc_method(self, _name: str, _handler: object) -> None: ...

    async def send_text(self, text: str, *, topic: str) -> None:
        if topic == TOPIC_METRICS:
            self.metrics.append(json.loads(text))

    async def set_attributes(self, _attributes: dict[str, str]) -> None: ...


class FakeSession:
    """The AgentSession surface the helper uses: event handlers and the audio input."""

    def __init__(self) -> None:
        self.handlers: dict[str, Any] = {}
        self.input = SimpleNamespace(audio=None)

    def on(self, event: str, handler: Any) -> None:
        self.handlers[event] = handler

    def transcribed(self, text: str, *, final: bool = True) -> None:
        self.handlers["user_input_transcribed"](SimpleNamespace(is_final=final, transcript=text))

    def state(self, old: str, new: str) -> None:
        self.handlers["agent_state_changed"](SimpleNamespace(old_state=old, new_state=new))


async def helper() -> tuple[Inspectable, FakeSession, FakeLocalParticipant]:
    session, local = FakeSession(), FakeLocalParticipant()
    room = SimpleNamespace(local_participant=local)
    return Inspectable(session, room), session, local  # type: ignore[arg-type]


async def reports(inspectable: Inspectable, local: FakeLocalParticipant) -> list[dict[str, Any]]:
    await asyncio.sleep(0)
    await inspectable.aclose()
    return local.metrics


async def test_a_final_after_the_release_is_reported_with_its_instant() -> None:
    inspectable, session, local = await helper()
    inspectable.turn_rpc("start_turn", "me", 1.0)
    session.transcribed("turn on", final=False)
    inspectable.turn_rpc("end_turn", "me", 2.0)
    session.transcribed("turn on the lights")
    session.state("thinking", "speaking")
    got = await reports(inspectable, local)
    assert [(r["transcript"], r["release_to_final_ms"] > 0) for r in got] == [
        ("turn on the lights", True),
        ("turn on the lights", True),
    ]
    assert got[-1]["release_to_first_audio_ms"] is not None


async def test_a_final_while_the_turn_is_held_is_reported_at_the_release() -> None:
    """The user paused before releasing: the STT's endpoint gave the final first, the
    release's flush gives nothing more. The turn is still reported, final at 0 ms."""
    inspectable, session, local = await helper()
    inspectable.turn_rpc("start_turn", "me", 1.0)
    session.transcribed("turn on the lights")
    inspectable.turn_rpc("end_turn", "me", 2.0)
    session.transcribed("")  # the flush after the release
    session.state("thinking", "speaking")
    got = await reports(inspectable, local)
    assert [(r["turn"], r["transcript"], r["release_to_final_ms"]) for r in got] == [
        (1, "turn on the lights", 0.0),
        (1, "turn on the lights", 0.0),
    ]


async def test_words_after_a_pause_join_the_turn_and_move_its_final() -> None:
    inspectable, session, local = await helper()
    inspectable.turn_rpc("start_turn", "me", 1.0)
    session.transcribed("turn off the lights")
    inspectable.turn_rpc("end_turn", "me", 2.0)
    session.transcribed("close the door")  # said after the pause, final after the release
    got = await reports(inspectable, local)
    assert [r["transcript"] for r in got] == [
        "turn off the lights",
        "turn off the lights close the door",
    ]
    assert got[0]["release_to_final_ms"] == 0.0 < got[1]["release_to_final_ms"]


async def test_finals_after_the_reply_started_are_not_the_turns() -> None:
    inspectable, session, local = await helper()
    inspectable.turn_rpc("start_turn", "me", 1.0)
    inspectable.turn_rpc("end_turn", "me", 2.0)
    session.transcribed("good night")
    session.state("thinking", "speaking")
    session.transcribed("stray words")
    got = await reports(inspectable, local)
    assert {r["transcript"] for r in got} == {"good night"}
