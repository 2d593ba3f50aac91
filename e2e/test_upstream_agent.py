"""The console driving an agent that has only LiveKit's upstream PTT methods."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from e2e.conftest import LaunchConsole
from e2e.rooms import room_of
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
