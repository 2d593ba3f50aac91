"""Who may join as whom: nobody takes an agent's place, or a present participant's by
accident (LiveKit disconnects the older of two participants with one identity).

Rules (also in docs/console.md):
- 403 for an identity reserved for agents: the configured agent identity
  (`PTT_AGENT_IDENTITY`, the bundled agent's), LiveKit's `agent-` prefix (the default
  identity of every livekit-agents worker, the upstream example's too), and any identity
  that an agent holds in the room right now;
- 409 for an identity already in the room, unless the request says `"replace": true`
  (the page sends that when the user confirms taking over from another tab, and when it
  rejoins in place of its own lost connection);
- when LiveKit cannot be asked, only the reserved names are refused: the token is
  issued, as it is when the dispatch outcome is unknown.
"""

from __future__ import annotations

from livekit import api

from .rebuild import is_agent, livekit_errors
from .validation import ApiError

AGENT_PREFIX = "agent-"


def reserved_reason(identity: str, *, agent_identity: str) -> str | None:
    """Why `identity` is reserved for agents, or None when anyone may use it."""
    if identity == agent_identity:
        return f"identity '{identity}' is the agent's (PTT_AGENT_IDENTITY)"
    if identity.startswith(AGENT_PREFIX):
        return f"identities starting with '{AGENT_PREFIX}' are LiveKit agents'"
    return None


async def check_identity(
    lkapi: api.LiveKitAPI,
    *,
    room: str,
    identity: str,
    agent_identity: str,
    agent_name: str,
    replace: bool,
) -> None:
    """Raise ApiError(403) for an agent's identity, ApiError(409) for one already in
    `room` unless `replace`."""
    reason = reserved_reason(identity, agent_identity=agent_identity)
    if reason:
        raise ApiError(403, f"{reason}: choose another identity")
    present = await _present(lkapi, room, identity)
    if present is None:
        return
    if is_agent(present, agent_name):
        raise ApiError(403, f"identity '{identity}' is held by an agent in room '{room}'")
    if not replace:
        raise ApiError(
            409,
            f"identity '{identity}' is already in room '{room}' (another tab or client); "
            'send "replace": true to take its place',
        )


async def _present(lkapi: api.LiveKitAPI, room: str, identity: str) -> api.ParticipantInfo | None:
    """The participant `identity` in `room`, or None when absent or LiveKit cannot tell."""
    try:
        with livekit_errors(room, "identity check"):
            return await lkapi.room.get_participant(
                api.RoomParticipantIdentity(room=room, identity=identity)
            )
    except ApiError:  # 404: no such room or participant; 502: LiveKit unreachable
        return None
