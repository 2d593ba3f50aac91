"""Rebuild: remove the agent from a room and dispatch a fresh instance (dispatching into
a room that has none, with its outcome, is dispatch.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import aiohttp
from livekit import api

from .validation import ApiError

logger = logging.getLogger("server")

PTT_ATTRIBUTE = "push-to-talk"
TOPIC_CONTROL = "ptt.control"  # the agent leaves cleanly on {"action": "leave"}
LEAVE_TIMEOUT = 3.0


@dataclass(frozen=True)
class RebuildResult:
    removed: list[str]
    dispatch_id: str


def is_agent(participant: api.ParticipantInfo, agent_name: str) -> bool:
    """Whether `participant` is an agent this console should remove on rebuild."""
    return (
        participant.kind == api.ParticipantInfo.Kind.AGENT
        or participant.identity == agent_name
        or participant.attributes.get(PTT_ATTRIBUTE) == "1"
    )


async def rebuild_agent(lkapi: api.LiveKitAPI, *, room: str, agent_name: str) -> RebuildResult:
    """Remove every agent participant from `room`, then dispatch `agent_name` into it
    (also when no agent was there: that is how an agent gets into an existing room).

    Raises ApiError(404) when the room does not exist and ApiError(502) when the
    LiveKit server fails or cannot be reached.
    """
    with livekit_errors(room, "rebuild"):
        await require_room(lkapi, room)
        agents = await agents_in(lkapi, room, agent_name)
        removed: list[str] = []
        still_there = await _ask_to_leave(lkapi, room, agents)
        removed.extend(a for a in agents if a not in still_there)
        for identity in still_there:
            try:
                await lkapi.room.remove_participant(
                    api.RoomParticipantIdentity(room=room, identity=identity)
                )
            except api.ServerError as e:
                if not _is_not_found(e):
                    raise
                # it left between the listing and the removal: that is what we wanted
            removed.append(identity)
        dispatch = await lkapi.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name=agent_name, room=room)
        )
    logger.info(
        "agent rebuilt",
        extra={"room": room, "removed": removed, "agent": agent_name, "dispatch_id": dispatch.id},
    )
    return RebuildResult(removed=removed, dispatch_id=dispatch.id)


async def require_room(lkapi: api.LiveKitAPI, room: str) -> None:
    """ApiError(404) unless `room` exists."""
    # ListParticipants answers an empty list for an unknown room, and a dispatch would
    # create the room: ask for the room itself first
    rooms = await lkapi.room.list_rooms(api.ListRoomsRequest(names=[room]))
    if not any(r.name == room for r in rooms.rooms):
        raise ApiError(404, f"room '{room}' does not exist")


async def agents_in(lkapi: api.LiveKitAPI, room: str, agent_name: str) -> list[str]:
    """Identities of the agents in `room` (none for a room that does not exist)."""
    listing = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room))
    return [p.identity for p in listing.participants if is_agent(p, agent_name)]


@contextlib.contextmanager
def livekit_errors(room: str, action: str) -> Iterator[None]:
    """LiveKit API failures as ApiError: 404 for a missing room, 502 otherwise."""
    try:
        yield
    except api.ServerError as e:
        if _is_not_found(e):
            raise ApiError(404, f"room '{room}' does not exist") from e
        logger.warning(
            f"LiveKit API error during {action}",
            extra={"room": room, "code": e.code, "status": e.status},
        )
        raise ApiError(502, f"LiveKit server error: {e.code}: {e.message}") from e
    except (TimeoutError, aiohttp.ClientError, OSError) as e:
        logger.warning(f"LiveKit API unreachable during {action}", extra={"room": room})
        raise ApiError(502, f"LiveKit server unreachable: {e or type(e).__name__}") from e


async def _ask_to_leave(lkapi: api.LiveKitAPI, room: str, agents: list[str]) -> list[str]:
    """Ask agents to leave on their own (a clean exit, no cut connections); returns
    those still present after LEAVE_TIMEOUT, which are then removed by force."""
    if not agents:
        return []
    await lkapi.room.send_data(
        api.SendDataRequest(
            room=room,
            data=json.dumps({"action": "leave"}).encode(),
            kind=api.DataPacket.Kind.RELIABLE,
            destination_identities=agents,
            topic=TOPIC_CONTROL,
        )
    )
    deadline = asyncio.get_running_loop().time() + LEAVE_TIMEOUT
    while True:
        listing = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room))
        present = {p.identity for p in listing.participants}
        remaining = [a for a in agents if a in present]
        if not remaining or asyncio.get_running_loop().time() >= deadline:
            return remaining
        await asyncio.sleep(0.1)


def _is_not_found(e: api.ServerError) -> bool:
    return e.status == 404 or e.code == api.ServerErrorCode.NOT_FOUND
