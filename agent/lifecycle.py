"""When the agent leaves its room by itself, so it never gets cut off mid-session.

- `ptt.control` data from the server (not from a participant) with
  `{"action": "leave"}`: the rebuild endpoint asks the old instance to leave cleanly.
- The last human participant left and nobody came back within a grace period.
- Nobody came at all: the console dispatches the agent before the page joins, so a
  token that is never used would otherwise hold the slot until the room's empty
  timeout (60 s).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

from livekit import rtc

logger = logging.getLogger("ptt-agent.lifecycle")

TOPIC_CONTROL = "ptt.control"
EMPTY_ROOM_GRACE = 1.0  # a slot is free within 2 s of the last person leaving
JOIN_GRACE = 15.0  # from the agent's start, for the first person to join


def humans(room: rtc.Room) -> list[rtc.RemoteParticipant]:
    return [
        p
        for p in room.remote_participants.values()
        if p.kind != rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
    ]


class Lifecycle:
    """Calls `leave(reason)` once when the server asks or the room stays empty."""

    def __init__(
        self,
        room: rtc.Room,
        leave: Callable[[str], None],
        *,
        grace: float = EMPTY_ROOM_GRACE,
        join_grace: float = JOIN_GRACE,
    ) -> None:
        self._room = room
        self._leave = leave
        self._grace = grace
        self._left = False
        self._empty_timer: asyncio.TimerHandle | None = None
        if not humans(room):
            loop = asyncio.get_running_loop()
            self._empty_timer = loop.call_later(join_grace, self._on_still_empty)
        room.on("data_received", self._on_data)
        room.on("participant_disconnected", self._on_participant_change)
        room.on("participant_connected", self._on_participant_change)

    def _on_data(self, packet: rtc.DataPacket) -> None:
        if packet.topic != TOPIC_CONTROL or packet.participant is not None:
            return  # only the server (through its API) may steer the agent's lifecycle
        try:
            action = json.loads(packet.data).get("action")
        except (ValueError, AttributeError):
            logger.warning("ignored malformed control message", extra={"size": len(packet.data)})
            return
        if action == "leave":
            self._do_leave("rebuild requested by the server")

    def _on_participant_change(self, _participant: rtc.RemoteParticipant) -> None:
        if humans(self._room):
            if self._empty_timer is not None:
                self._empty_timer.cancel()
                self._empty_timer = None
        elif self._empty_timer is None:
            loop = asyncio.get_running_loop()
            self._empty_timer = loop.call_later(self._grace, self._on_still_empty)

    def _on_still_empty(self) -> None:
        self._empty_timer = None
        if not humans(self._room):
            self._do_leave("room empty")

    def _do_leave(self, reason: str) -> None:
        if self._left:
            return
        self._left = True
        logger.info("leaving the room", extra={"reason": reason})
        self._leave(reason)

    def close(self) -> None:
        if self._empty_timer is not None:
            self._empty_timer.cancel()
