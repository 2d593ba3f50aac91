"""The PTT bug classes, each as a scenario on the real stack."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from e2e.conftest import LaunchConsole, Target
from e2e.participant import Participant
from e2e.rooms import room_of
from e2e.speech import SpeechClip

PAUSED = 4423
TURN_BUSY = 4409


@pytest.fixture
def second(target: Target, request: pytest.FixtureRequest) -> Iterator[Participant]:
    p = Participant(
        target.url, room=room_of(request), identity="qa-second", access_key=target.access_key
    )
    yield p
    p.leave()


def test_turn_first_word_kept_when_speaking_at_press(
    launch_console: LaunchConsole, clips: dict[str, SpeechClip], request: pytest.FixtureRequest
) -> None:
    console = launch_console(clips["lights"], room=room_of(request))
    console.expect_agent_state("listening")
    console.speak_turn(0, at_onset=True)  # the first word starts with the press
    console.expect_user_final("turn on the lights")


def test_cancel_mid_phrase_words_never_reach_next_turn(
    launch_console: LaunchConsole, clips: dict[str, SpeechClip], request: pytest.FixtureRequest
) -> None:
    console = launch_console(clips["cancel"], room=room_of(request))
    console.expect_agent_state("listening")
    console.cancel_mid_phrase(0)
    console.speak_turn(1)
    console.expect_user_final("close the door")
    last = console.entries("user").last.inner_text()
    assert not {"play", "some", "music"} & set(last.lower().split()), last
    console.expect_agent_reply(1)


def test_pause_refuses_talk_and_resume_keeps_context(
    launch_console: LaunchConsole,
    clips: dict[str, SpeechClip],
    second: Participant,
    request: pytest.FixtureRequest,
) -> None:
    console = launch_console(clips["turns"], room=room_of(request))
    console.expect_agent_state("listening")
    console.speak_turn(0)
    console.expect_agent_reply(1)

    console.el("pause-button").click()
    console.expect_agent_state("paused")
    expect(console.el("ptt-button")).to_be_disabled()
    second.join()
    second.wait_agent_attribute("ptt.paused", "1")
    code, message = second.rpc("start_turn")
    assert code == PAUSED, message

    console.el("resume-button").click()
    console.expect_agent_state("listening")
    second.wait_agent_attribute("ptt.paused", "0")
    console.speak_turn(1)
    console.expect_user_final("how many turns")
    expect(console.entries("agent").last).to_contain_text("turn two", timeout=15_000)
    # the agent broadcasts no RemoteSession events (states, interims) nobody here reads:
    # the second participant was in the room for that whole turn
    assert second.session_messages == []
    # nor each transcript chunk again as a legacy rtc.Transcription packet, which the
    # framework sends while a participant without client_protocol 3 (as this Python one)
    # is in the room: the console's clients read the text streams
    assert second.legacy_transcripts == []


def test_rebuild_gives_a_fresh_agent_with_empty_context(
    launch_console: LaunchConsole, clips: dict[str, SpeechClip], request: pytest.FixtureRequest
) -> None:
    console = launch_console(clips["turns"], room=room_of(request))
    console.expect_agent_state("listening")
    console.speak_turn(0)
    console.expect_agent_reply(1)

    console.el("rebuild-button").click()
    console.expect_agent_state("absent")
    console.expect_agent_state("listening")
    console.speak_turn(1)
    console.expect_user_final("how many turns")
    expect(console.entries("agent").last).to_contain_text("turn one", timeout=15_000)


def test_second_participant_is_refused_while_the_turn_is_held(
    launch_console: LaunchConsole,
    clips: dict[str, SpeechClip],
    second: Participant,
    request: pytest.FixtureRequest,
) -> None:
    console = launch_console(clips["lights"], room=room_of(request))
    console.expect_agent_state("listening")
    second.join()
    console.press()
    second.wait_agent_attribute("ptt.turn_owner", "qa-user")
    code, message = second.rpc("start_turn")
    assert code == TURN_BUSY, message
    console.release()
    second.wait_agent_attribute("ptt.turn_owner", "")
    code, _ = second.rpc("start_turn")
    assert code == 0
    code, _ = second.rpc("cancel_turn")
    assert code == 0


@pytest.mark.parametrize("clip", ["door", "silence"])
def test_rapid_press_release_leaves_agent_healthy(
    launch_console: LaunchConsole,
    clips: dict[str, SpeechClip],
    request: pytest.FixtureRequest,
    clip: str,
) -> None:
    console = launch_console(clips[clip], room=room_of(request))
    console.expect_agent_state("listening")
    button = console.el("ptt-button")
    button.hover()
    if clip == "door":
        console.play(0, loop=True)  # talking all through the presses
    for _ in range(50):
        console.page.mouse.down()
        console.page.mouse.up()
    expect(button).to_have_attribute("aria-pressed", "false")
    # the page sends the 50 turns' RPCs (and opens the microphone for each) one after
    # another: wait until every end_turn has answered, still talking
    log = console.el("event-log")
    expect(log.get_by_text(re.compile(r"rpc end_turn (ok|failed)"))).to_have_count(
        50, timeout=60_000
    )
    console.stop_playing()
    console.expect_agent_state("listening", timeout=30_000)
    if clip == "door":
        console.speak_turn()
        console.expect_user_final("open the door")
        return
    # nothing was said: no words may appear, and the agent still takes a turn
    ended = log.get_by_text("rpc end_turn ok")
    before = ended.count()
    console.press()
    console.release()
    expect(ended).to_have_count(before + 1)
    words = [t for t in console.entries("user").all_inner_texts() if t.strip()]
    assert words == [], words


def test_press_while_agent_speaks_interrupts_it(
    launch_console: LaunchConsole, clips: dict[str, SpeechClip], request: pytest.FixtureRequest
) -> None:
    console = launch_console(clips["turns"], room=room_of(request))
    console.expect_agent_state("listening")
    console.speak_turn(0)
    console.expect_agent_state("speaking")
    console.press()
    console.expect_agent_state("listening", timeout=5_000)
    console.el("cancel-button").click()


def test_pause_while_agent_speaks_cuts_its_audio(
    launch_console: LaunchConsole, clips: dict[str, SpeechClip], request: pytest.FixtureRequest
) -> None:
    console = launch_console(clips["turns"], room=room_of(request))
    console.expect_agent_state("listening")
    console.speak_turn(1)  # "how many turns": a reply of about three seconds
    console.expect_agent_state("speaking")
    console.el("pause-button").click()
    console.expect_agent_state("paused")
    # the reply stops where it was: its text (synchronised with the audio) is cut short
    reply = console.entries("agent", final=True)
    expect(reply).to_have_count(1, timeout=15_000)
    said = reply.inner_text()
    assert said and "before" not in said, f"the whole reply played: {said!r}"
    console.page.wait_for_function(
        "() => document.querySelector('[data-testid=\"agent-level\"]').value < 0.01"
    )
