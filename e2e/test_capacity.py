"""A session past the agent's capacity is told why no agent came."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from e2e.conftest import LaunchConsole, Target
from e2e.rooms import room_of
from e2e.speech import SpeechClip
from stack.process import Child
from stack.supervisor import REGISTERED

ONE_SESSION_AGENT = "ptt-agent-one"


@pytest.fixture
def one_session_agent(target: Target) -> Iterator[str]:
    """Our agent, registered under its own name with room for one session."""
    if target.stack is None:
        pytest.skip("needs the local stack: starts an agent worker of its own")
    env = {
        **target.stack._env(),
        "PTT_AGENT_NAME": ONE_SESSION_AGENT,
        "PTT_AGENT_MAX_SESSIONS": "1",
    }
    child = Child(
        "agent-one",
        [sys.executable, "-m", "agent", "start"],
        env=env,
        log_dir=target.stack.config.log_dir,
        echo=None,
        ready_line=REGISTERED,
    )
    child.start()
    try:
        child.wait_ready(None, 90)
        yield ONE_SESSION_AGENT
    finally:
        child.stop()


def test_session_past_capacity_is_refused_with_the_reason(
    launch_console: LaunchConsole,
    clips: dict[str, SpeechClip],
    one_session_agent: str,
    request: pytest.FixtureRequest,
) -> None:
    room = room_of(request)
    first = launch_console(clips["lights"], room=f"{room}-a", agent=one_session_agent)
    first.expect_agent_state("listening")

    second = launch_console(clips["lights"], room=f"{room}-b", agent=one_session_agent)
    reason = second.el("ptt-reason")
    expect(reason).to_contain_text("no worker with capacity", timeout=30_000)
    expect(reason).to_contain_text(one_session_agent)
    expect(reason).to_contain_text("PTT_AGENT_MAX_SESSIONS")
    expect(second.el("ptt-button")).to_be_disabled()
    expect(second.log_entries("could not be dispatched: no worker with capacity")).to_have_count(1)
    # the first session still has its agent and talks
    first.speak_turn()
    first.expect_user_final("turn on the lights")
