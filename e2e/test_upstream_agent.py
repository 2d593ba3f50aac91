"""The console driving an agent that has only LiveKit's upstream PTT methods."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from e2e.conftest import LaunchConsole, Target
from e2e.rooms import RoomAdmin, room_of
from e2e.speech import SpeechClip


def test_upstream_only_agent_talks_and_lacking_controls_are_explained(
    launch_console: LaunchConsole,
    clips: dict[str, SpeechClip],
    upstream_agent: str,
    request: pytest.FixtureRequest,
) -> None:
    console = launch_console(clips["lights"], room=room_of(request), agent=upstream_agent)
    console.expect_agent_state("listening")
    # pause/resume need our ptt.paused attribute: disabled with the reason, not broken
    expect(console.el("pause-button")).to_be_disabled()
    expect(console.el("resume-button")).to_be_disabled()
    expect(console.el("control-reason")).to_contain_text("pause")

    console.speak_turn()
    console.expect_user_final("turn on the lights")
    console.expect_agent_reply(1)

    console.speak_turn()
    console.expect_user_final("turn on the lights", index=1)
    console.expect_agent_reply(2)
    errors = console.log_entries("", level="error")
    expect(errors).to_have_count(0)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_a_users_agent_with_the_inspector_helper_fills_the_agent_lane_and_audio(
    launch_console: LaunchConsole,
    clips: dict[str, SpeechClip],
    upstream_agent: str,
    target: Target,
    request: pytest.FixtureRequest,
) -> None:
    """The upstream-style agent dispatched with {"ptt_inspect": true} adds
    agent/inspectable.py as a user would: the page gets its instants and its audio."""
    if target.stack is None:
        pytest.skip("dispatches through the LiveKit server API: only with the local stack")
    c = target.stack.config
    room = room_of(request)
    RoomAdmin(c.server_livekit_url, c.api_key, c.api_secret).dispatch(
        room, upstream_agent, json.dumps({"ptt_inspect": True})
    )
    console = launch_console(clips["lights"], room=room, agent=upstream_agent)
    console.expect_agent_state("listening")
    console.speak_turn()
    console.expect_user_final("turn on the lights")
    console.expect_agent_reply(1)
    turn = console.el("inspector").locator('[data-testid="inspector-turn"][data-turn="1"]')
    expect(turn).to_have_attribute("data-audio", "ready", timeout=15_000)
    timeline = turn.get_by_test_id("inspector-timeline")
    for mark in ("start_turn received", "end_turn received", "final transcript"):
        expect(timeline.locator(f'[data-lane="agent"] [data-mark="{mark}"]')).to_have_count(1)
    expect(turn).to_have_attribute("data-marks", "")
    expect(console.log_entries("", level="error")).to_have_count(0)


def test_the_plain_upstream_agent_has_no_inspector_parts_and_the_page_says_so(
    launch_console: LaunchConsole,
    clips: dict[str, SpeechClip],
    upstream_agent: str,
    request: pytest.FixtureRequest,
) -> None:
    console = launch_console(clips["lights"], room=room_of(request), agent=upstream_agent)
    console.expect_agent_state("listening")
    console.speak_turn()
    console.expect_agent_reply(1)
    turn = console.el("inspector").locator('[data-testid="inspector-turn"][data-turn="1"]')
    # browser lanes and the page's recording, no agent lane: the note says why
    expect(
        turn.get_by_test_id("inspector-timeline").locator('[data-lane="browser"]')
    ).to_have_count(1)
    expect(turn.get_by_test_id("inspector-timeline").locator('[data-lane="agent"]')).to_have_count(
        0
    )
    expect(turn.locator('[data-role="note"]')).to_contain_text("no ptt.metrics from this agent")
