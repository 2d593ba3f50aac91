"""A full push-to-talk turn through the real stack."""

from __future__ import annotations

from playwright.sync_api import expect

from e2e.conftest import LaunchConsole
from e2e.speech import SpeechClip


def test_turn_phrase_gives_final_transcript_and_spoken_reply(
    launch_console: LaunchConsole, clips: dict[str, SpeechClip]
) -> None:
    console = launch_console(clips["lights"], room="e2e-turn")
    console.expect_agent_state("listening")
    # a short event log, so the turn's entries overflow it whatever the agent's chatter
    # (22rem held 14-16 entries: one turn filled it only some of the time)
    console.page.add_style_tag(content='[data-testid="event-log"] { max-height: 4rem; }')

    console.speak_turn()

    console.expect_user_final("turn on the lights")
    console.expect_agent_reply()
    expect(console.el("agent-audio")).to_have_attribute("data-track", "subscribed", timeout=15_000)
    expect(console.el("agent-level")).not_to_have_attribute("data-peak", "0.000", timeout=15_000)
    assert console.agent_peak() > 0.01

    # the event log, longer than its box, follows its newest entry
    console.page.wait_for_function(
        """() => {
            const log = document.querySelector('[data-testid="event-log"]');
            return log.scrollHeight > log.clientHeight
                && log.scrollHeight - log.scrollTop - log.clientHeight < 40;
        }""",
        timeout=15_000,
    )
