"""Access tokens for browsers joining a room with the agent dispatched into it."""

from __future__ import annotations

import datetime

from livekit import api

from .config import Settings

TOKEN_TTL = datetime.timedelta(hours=1)


def mint_token(settings: Settings, *, room: str, identity: str, agent_name: str) -> str:
    """`join_token` with the console's configured LiveKit key and secret."""
    return join_token(
        settings.livekit_api_key,
        settings.livekit_api_secret,
        room=room,
        identity=identity,
        agent_name=agent_name,
    )


def join_token(api_key: str, api_secret: str, *, room: str, identity: str, agent_name: str) -> str:
    """A join token for `identity` in `room` that also dispatches an agent on join.

    The room configuration in the token makes LiveKit dispatch `agent_name` when the
    room is created by this join (explicit dispatch); joining a room that already
    exists dispatches nothing.
    """
    grants = api.VideoGrants(
        room_join=True,
        room=room,
        can_publish=True,
        can_subscribe=True,
        can_publish_data=True,
    )
    room_config = api.RoomConfiguration(agents=[api.RoomAgentDispatch(agent_name=agent_name)])
    return (
        api.AccessToken(api_key, api_secret)
        .with_identity(identity)
        .with_name(identity)
        .with_grants(grants)
        .with_ttl(TOKEN_TTL)
        .with_room_config(room_config)
        .to_jwt()
    )
