"""When the agent leaves its room by itself (a room stand-in with the two things the
lifecycle reads: its remote participants and its events)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from livekit import rtc

from agent.lifecycle import Lifecycle

pytestmark = pytest.mark.unit


class Person:
    kind = rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD

    def __init__(self, identity: str) -> None:
        self.identity = identity


class Room:
    def __init__(self) -> None:
        self.remote_participants: dict[str, Any] = {}
        self._handlers: dict[str, list[Callable[..., None]]] = {}

    def on(self, event: str, fn: Callable[..., None]) -> None:
        self._handlers.setdefault(event, []).append(fn)

    def join(self, identity: str) -> None:
        p = self.remote_participants[identity] = Person(identity)
        for fn in self._handlers.get("participant_connected", []):
            fn(p)

    def leave(self, identity: str) -> None:
        p = self.remote_participants.pop(identity)
        for fn in self._handlers.get("participant_disconnected", []):
            fn(p)


def _lifecycle(room: Room) -> tuple[Lifecycle, list[str]]:
    reasons: list[str] = []
    life = Lifecycle(room, reasons.append, grace=0.05, join_grace=0.1)  # type: ignore[arg-type]
    return life, reasons


async def test_an_agent_nobody_joins_leaves_after_the_join_grace() -> None:
    _, reasons = _lifecycle(Room())
    await asyncio.sleep(0.2)
    assert reasons == ["room empty"]


async def test_a_person_who_joins_in_time_keeps_the_agent_until_they_leave() -> None:
    room = Room()
    life, reasons = _lifecycle(room)
    room.join("user")
    await asyncio.sleep(0.2)
    assert reasons == []
    room.leave("user")
    await asyncio.sleep(0.15)
    assert reasons == ["room empty"]
    life.close()


async def test_a_rejoin_within_the_grace_keeps_the_agent() -> None:
    room = Room()
    life, reasons = _lifecycle(room)
    room.join("user")
    room.leave("user")
    room.join("user")
    await asyncio.sleep(0.2)
    assert reasons == []
    life.close()
