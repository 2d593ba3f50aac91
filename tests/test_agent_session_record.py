"""agent.session.keep_recent_events: a long session's event record stays bounded."""

from __future__ import annotations

import pytest
from livekit.agents import AgentSession

from agent.session import keep_recent_events

pytestmark = pytest.mark.unit


async def test_the_event_record_keeps_only_the_newest_events_in_order() -> None:
    session: AgentSession = AgentSession()
    session.emit("debug_message", "before")  # type: ignore[arg-type]
    keep_recent_events(session, keep=50)
    for i in range(1000):
        session.emit("debug_message", i)  # type: ignore[arg-type]
    kept = list(session._recorded_events)
    assert kept == list(range(950, 1000))
