"""Rooms for e2e tests: a name per test, valid for the console's name rules, and the
LiveKit server API for what only the server can do to a room."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from livekit import api

_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_.-]")


def room_of(request: pytest.FixtureRequest, suffix: str = "") -> str:
    """A room name unique to the running test (and `suffix`): readable, at most 64
    characters, only letters, digits, `_`, `.` and `-`."""
    digest = hashlib.sha1(f"{request.node.nodeid}/{suffix}".encode()).hexdigest()[:6]
    name = _NOT_ALLOWED.sub("-", request.node.name)[:40].rstrip("-")
    tail = f"-{_NOT_ALLOWED.sub('-', suffix)[:8]}" if suffix else ""
    return f"e2e-{name}{tail}-{digest}"


class RoomAdmin:
    """What a LiveKit server's operator can do to a room (its server API): the local
    stack's credentials only, so tests that use it skip against a deployment."""

    def __init__(self, url: str, api_key: str, api_secret: str) -> None:
        self._args = (url, api_key, api_secret)

    def _call(self, action: Callable[[api.LiveKitAPI], Awaitable[object]]) -> None:
        async def run() -> None:
            lkapi = api.LiveKitAPI(*self._args)
            try:
                await action(lkapi)
            finally:
                await lkapi.aclose()

        # Playwright's sync API keeps an event loop running in this thread
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(asyncio.run, run()).result(timeout=30)

    def delete_room(self, room: str) -> None:
        """Close the room for everyone in it (they see DisconnectReason ROOM_DELETED)."""
        self._call(lambda lk: lk.room.delete_room(api.DeleteRoomRequest(room=room)))

    def dispatch(self, room: str, agent_name: str, metadata: str = "") -> None:
        """Dispatch `agent_name` to `room` (created if needed) with job `metadata`."""

        async def run(lk: api.LiveKitAPI) -> None:
            await lk.room.create_room(api.CreateRoomRequest(name=room))
            await lk.agent_dispatch.create_dispatch(
                api.CreateAgentDispatchRequest(agent_name=agent_name, room=room, metadata=metadata)
            )

        self._call(run)

    def remove_participant(self, room: str, identity: str) -> None:
        """Remove one participant (it sees DisconnectReason PARTICIPANT_REMOVED)."""
        self._call(
            lambda lk: lk.room.remove_participant(
                api.RoomParticipantIdentity(room=room, identity=identity)
            )
        )
