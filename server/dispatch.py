"""An agent into a room before anyone joins it, with the outcome said out loud.

livekit-server assigns a dispatch's job once, at the moment it is created, to a worker
whose load is under `agents.target_load`; when none has room it logs "failed to send
job request" and the dispatch stays with no job, with no retry and nothing in the API
but that empty job list. So the console dispatches itself (the token endpoint, before
the page joins), watches the dispatch for its job, and when none comes deletes it and
tries again for up to RETRY_WITHIN_S: a burst of joins, or a worker that has not yet
reported a freed slot, gets its agent a moment later. What still fails is reported as
"refused", with the reason and what to change.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict, dataclass
from typing import Any, Literal

from livekit import api

from .rebuild import agents_in, is_agent

logger = logging.getLogger("server")

# livekit-server waits up to 3 s (its RPC timeout) for a worker to take a job, and lists
# the job late (5 s after the agent had joined, measured with a one-session worker), so
# an agent in the room counts as assigned too; a job that came after we gave up would
# bring a second agent with the retry's
CONFIRM_S = 5.0  # a job is assigned (or its agent here) this soon, or it was refused
RETRY_WITHIN_S = 11.0  # bounded: two attempts, the token answer waits at most this long
RETRY_PAUSE_S = 0.5
FRESH_AGENT_S = 30.0  # `missing`: an agent listed as joined this recently is believed
POLL_S = 0.15
ROOM_EMPTY_TIMEOUT_S = 60  # a room nobody joins closes (and its agent's job ends)
NO_CAPACITY = "no worker with capacity"
NO_CAPACITY_HINT = (
    "No worker registered as '{agent}' took the job: none is running, or every one is "
    "full. The bundled agent takes PTT_AGENT_MAX_SESSIONS sessions (see the README). "
    "Your own agent gets no job while its load (livekit-agents' default: the machine's "
    "CPU) is at or over the server's agents.target_load: give AgentServer a load_fnc "
    "that counts its sessions, or free the CPU."
)

_COMING = (api.JobStatus.JS_PENDING, api.JobStatus.JS_RUNNING)
Status = Literal["assigned", "present", "coming", "refused", "unknown"]


@dataclass(frozen=True)
class AgentOutcome:
    agent: str
    status: Status
    dispatch_id: str = ""
    attempts: int = 0
    waited_ms: float = 0.0
    reason: str = ""
    hint: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


async def ensure_agent(
    lkapi: api.LiveKitAPI,
    *,
    room: str,
    agent_name: str,
    within: float = RETRY_WITHIN_S,
    confirm: float = CONFIRM_S,
    trust_listing: bool = True,
) -> AgentOutcome:
    """Create `room` if needed and see an `agent_name` job assigned to it: "present"
    (an agent is in the room), "coming" (a dispatch of it has a job), "assigned" (ours
    got one) or "refused". Raises api.ServerError and connection errors as they come.

    Without `trust_listing` the room's participant and dispatch listings are not asked
    first: a participant in the room saw no agent. After a cluster node died, the node
    that took its room over still listed the dead node's agent and its job as running
    (docs/scaling.md), so a listing-based "present" would never let an agent come."""
    t0 = time.monotonic()
    await lkapi.room.create_room(
        api.CreateRoomRequest(name=room, empty_timeout=ROOM_EMPTY_TIMEOUT_S)
    )
    if not trust_listing:
        # an agent that joined since the caller's rejoin is real (it rejoined by itself);
        # one that joined long ago, and the caller does not see, is a dead node's record
        listing = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room))
        now = time.time()
        fresh = [
            p
            for p in listing.participants
            if is_agent(p, agent_name) and now - p.joined_at < FRESH_AGENT_S
        ]
        if fresh:
            return AgentOutcome(agent_name, "present")
    else:
        if await agents_in(lkapi, room, agent_name):
            return AgentOutcome(agent_name, "present")
        for d in await lkapi.agent_dispatch.list_dispatch(room_name=room):
            coming = any(j.state.status in _COMING for j in d.state.jobs)
            if d.agent_name == agent_name and coming:
                return AgentOutcome(agent_name, "coming", dispatch_id=d.id)
    attempts = 0
    while True:
        attempts += 1
        dispatch = await lkapi.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name=agent_name, room=room)
        )
        if await _job_assigned(lkapi, room, dispatch.id, agent_name, confirm):
            waited = round((time.monotonic() - t0) * 1000, 1)
            if attempts > 1:
                logger.info(
                    "agent dispatched after a retry",
                    extra={"room": room, "agent": agent_name, "attempts": attempts},
                )
            return AgentOutcome(agent_name, "assigned", dispatch.id, attempts, waited)
        await _delete(lkapi, room, dispatch.id)
        if time.monotonic() - t0 + RETRY_PAUSE_S + confirm > within:
            break
        await asyncio.sleep(RETRY_PAUSE_S)
        if await agents_in(lkapi, room, agent_name):  # it came after all
            return AgentOutcome(agent_name, "present", attempts=attempts)
    waited = round((time.monotonic() - t0) * 1000, 1)
    logger.warning(
        "no agent could be dispatched",
        extra={"room": room, "agent": agent_name, "attempts": attempts, "reason": NO_CAPACITY},
    )
    return AgentOutcome(
        agent_name,
        "refused",
        attempts=attempts,
        waited_ms=waited,
        reason=NO_CAPACITY,
        hint=NO_CAPACITY_HINT.format(agent=agent_name),
    )


async def _job_assigned(
    lkapi: api.LiveKitAPI, room: str, dispatch_id: str, agent_name: str, within: float
) -> bool:
    deadline = time.monotonic() + within
    while True:
        for d in await lkapi.agent_dispatch.list_dispatch(room_name=room):
            if d.id == dispatch_id and d.state.jobs:
                return True
        if await agents_in(lkapi, room, agent_name):
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(POLL_S)


async def _delete(lkapi: api.LiveKitAPI, room: str, dispatch_id: str) -> None:
    """A refused dispatch would otherwise linger in the room's listing as if pending."""
    try:
        await lkapi.agent_dispatch.delete_dispatch(dispatch_id, room)
    except api.ServerError as e:
        logger.debug("refused dispatch already gone", extra={"room": room, "code": e.code})
