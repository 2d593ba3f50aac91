"""Each control of the console against the real stack, judged by what it visibly did:
the RPCs in the event log with their result, aria-pressed, transcripts, agent state."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Route, expect

from e2e.conftest import LaunchConsole, Target
from e2e.console import Console
from e2e.log_oracle import DATA_CHANNEL_CLOSED
from e2e.rooms import RoomAdmin, room_of
from e2e.speech import SpeechClip

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


@pytest.fixture
def admin(target: Target) -> RoomAdmin:
    if target.stack is None:
        pytest.skip("needs the LiveKit server API: only with the local stack")
    c = target.stack.config
    return RoomAdmin(c.server_livekit_url, c.api_key, c.api_secret)


# deleting a room cuts the agent's connection: the Rust SDK logs that at ERROR
ROOM_DELETED_IN_AGENT = (
    rf"{DATA_CHANNEL_CLOSED}"
    r"|livekit::rtc_engine.*(failed to negotiate the publisher"
    r"|failed to send dc_event buffer_amount_change)"
)

# what the page logs when it decides to rejoin and when it tries
REJOINING = re.compile(r"\): rejoining |rejoin attempt")


OpenConsole = Callable[[str], Console]


@pytest.fixture
def listening(
    launch_console: LaunchConsole, clips: dict[str, SpeechClip], request: pytest.FixtureRequest
) -> OpenConsole:
    """Opens the console in this test's room, its mic playing clip `name`, and waits until
    the agent listens."""

    def open_console(name: str) -> Console:
        console = launch_console(clips[name], room=room_of(request))
        console.expect_agent_state("listening")
        return console

    return open_console


@pytest.fixture
def ready_console(listening: OpenConsole) -> Console:
    """The console with the agent listening and its audio track on the page: the agent
    has finished joining (deleting the room earlier races its publisher's negotiation)."""
    console = listening("door")
    expect(console.el("agent-audio")).to_have_attribute("data-track", "subscribed")
    return console


def second_tab(
    console: Console, target: Target, *, identity: str, take_over: bool = False
) -> Console:
    """Another tab of the same browser (same fake microphone), joined to the same room."""
    page = console.page.context.new_page()
    other = Console(page, base_url=console.base_url, clip=console.clip)
    room = console.el("room-input").input_value()
    other.open(room=room, identity=identity, access_key=target.access_key, take_over=take_over)
    return other


# -- rejoining by itself ----------------------------------------------------------------


@pytest.mark.expected_agent_errors(ROOM_DELETED_IN_AGENT)
def test_rejoin_after_the_server_deletes_the_room_keeps_transcript_and_talks(
    listening: OpenConsole, admin: RoomAdmin, request: pytest.FixtureRequest
) -> None:
    room = room_of(request)
    console = listening("turns")
    console.speak_turn(0)
    console.expect_user_final("hello agent")
    console.expect_agent_reply(1)
    capture = console.el("mic-level").get_attribute("data-capture-started")

    admin.delete_room(room)

    expect(console.el("connection-state")).to_have_text("reconnecting")
    expect(console.log_entries("disconnected (ROOM_DELETED): rejoining", "warn")).to_have_count(1)
    expect(console.el("ptt-button")).to_be_disabled()
    expect(console.el("connection-state")).to_have_text("connected", timeout=30_000)
    expect(console.log_entries("rejoin attempt 1:")).to_have_count(1)
    expect(console.log_entries("rejoined")).to_have_count(1)
    # the muted microphone was published again: a new capture started
    expect(console.el("mic-level")).not_to_have_attribute("data-capture-started", capture or "")
    # what was said before is still on the page
    expect(console.entries("user").first).to_contain_text("hello agent")
    # the join created the room again, which dispatched a fresh agent (empty context)
    console.expect_agent_state("listening")
    console.speak_turn(1)
    console.expect_user_final("how many turns")
    expect(console.entries("agent").last).to_contain_text("turn one", timeout=15_000)


def test_removed_participant_does_not_rejoin(
    ready_console: Console, admin: RoomAdmin, request: pytest.FixtureRequest
) -> None:
    console = ready_console
    admin.remove_participant(room_of(request), "qa-user")

    # the decision is taken when the disconnection arrives: no "reconnecting" on the way
    expect(console.el("connection-state")).to_have_text("disconnected")
    expect(console.log_entries("(PARTICIPANT_REMOVED)", "warn")).to_contain_text(
        "this participant was removed from the room; not rejoining"
    )
    expect(console.log_entries(REJOINING)).to_have_count(0)
    expect(console.el("status")).to_contain_text("removed from the room")
    expect(console.el("connect-button")).to_be_enabled()
    expect(console.el("agent-state")).to_have_text("absent")


def test_same_identity_in_another_tab_takes_over_once_confirmed_without_a_loop(
    listening: OpenConsole, target: Target
) -> None:
    console = listening("door")

    # the first Connect is refused (409) and leaves the first tab alone; the second takes over
    other = second_tab(console, target, identity="qa-user", take_over=True)
    expect(other.log_entries("already in room", "warn")).to_contain_text(
        "press Connect again to take its place"
    )

    expect(console.el("connection-state")).to_have_text("disconnected")
    expect(console.log_entries("(DUPLICATE_IDENTITY)", "warn")).to_contain_text(
        "another participant joined with the same identity; not rejoining"
    )
    expect(console.log_entries(REJOINING)).to_have_count(0)
    # the tab that took over keeps the room and the agent
    expect(other.el("connection-state")).to_have_text("connected")
    other.expect_agent_state("listening")
    expect(other.log_entries("DUPLICATE_IDENTITY")).to_have_count(0)


@pytest.mark.expected_agent_errors(ROOM_DELETED_IN_AGENT)
def test_rejoin_backs_off_while_failing_and_disconnect_stops_it(
    ready_console: Console, admin: RoomAdmin, request: pytest.FixtureRequest
) -> None:
    console = ready_console
    token_requests: list[float] = []

    def unavailable(route: Route) -> None:
        token_requests.append(float(console.page.evaluate("performance.now()")))
        route.fulfill(status=503, json={"error": "web server restarting"})

    console.page.route("**/api/token", unavailable)
    admin.delete_room(room_of(request))

    # every attempt is logged; the waits grow: 0.5 s, 1 s, 2 s, …
    failed = console.log_entries("web server restarting", "warn")
    expect(failed.nth(1)).to_contain_text("rejoin attempt 2 failed")
    expect(failed.nth(0)).to_contain_text("next in 1 s")
    expect(failed.nth(1)).to_contain_text("next in 2 s")
    expect(console.el("connection-state")).to_have_text("reconnecting")
    expect(console.el("ptt-reason")).to_contain_text("rejoining")
    assert len(token_requests) == 2

    console.el("disconnect-button").click()
    expect(console.el("connection-state")).to_have_text("disconnected")
    expect(console.log_entries("disconnecting: no more rejoin attempts")).to_have_count(1)
    # past the moment attempt 3 was due: nothing was tried
    console.wait_until(token_requests[-1] + 2_000 + 500)
    assert len(token_requests) == 2
    expect(console.log_entries("rejoin attempt 3")).to_have_count(0)
    expect(console.el("connection-state")).to_have_text("disconnected")


@pytest.mark.expected_agent_errors(ROOM_DELETED_IN_AGENT)
def test_rejoin_gives_up_when_the_token_is_refused(
    ready_console: Console, admin: RoomAdmin, request: pytest.FixtureRequest
) -> None:
    console = ready_console
    console.page.route(
        "**/api/token",
        lambda route: route.fulfill(status=401, json={"error": "missing or wrong X-Access-Key"}),
    )
    admin.delete_room(room_of(request))

    expect(console.log_entries("rejoin attempt 1 failed", "error")).to_contain_text("giving up")
    expect(console.el("connection-state")).to_have_text("disconnected")
    expect(console.el("status")).to_contain_text("Rejoin failed: missing or wrong X-Access-Key")
    expect(console.el("connect-button")).to_be_enabled()


# -- talking ------------------------------------------------------------------------------


def expect_one_answered_turn(console: Console, phrase: str) -> None:
    """One turn: start_turn and end_turn each sent once and answered ok, nothing cancelled,
    the phrase transcribed and the agent replying on the page."""
    console.expect_user_final(phrase)
    expect(console.agent_replies()).to_have_count(1)
    expect(console.rpc_entries("start_turn")).to_have_count(1)
    expect(console.rpc_entries("end_turn")).to_have_count(1)
    expect(console.rpc_entries("cancel_turn")).to_have_count(0)


def test_space_held_talks_and_key_repeat_sends_one_start_turn(listening: OpenConsole) -> None:
    console = listening("lights")
    keyboard = console.page.keyboard
    console.page.evaluate(
        """() => {
            window.__repeats = 0;
            document.addEventListener('keydown', (e) => { if (e.repeat) window.__repeats++; });
        }"""
    )

    def press() -> None:
        keyboard.down("Space")
        expect(console.el("ptt-button")).to_have_attribute("aria-pressed", "true")
        expect(console.rpc_entries("start_turn")).to_have_count(1)
        for _ in range(20):  # a held key repeats: keydown events with repeat = true
            keyboard.down("Space")

    def release() -> None:
        keyboard.up("Space")
        expect(console.el("ptt-button")).to_have_attribute("aria-pressed", "false")

    console.hold_through(press, release)

    assert console.page.evaluate("window.__repeats") == 20  # the repeats did arrive
    expect_one_answered_turn(console, "turn on the lights")
    # the turn's two RPCs and nothing else (the inspector's get_turn_audio aside)
    turn_rpcs = console.el("event-log").locator(
        '[data-source="rpc"]', has_not_text=re.compile(r"rpc get_turn_audio ")
    )
    expect(turn_rpcs).to_have_count(2)


def test_space_in_a_field_does_not_talk(listening: OpenConsole) -> None:
    console = listening("door")
    expect(console.el("ptt-button")).to_be_enabled()
    # room, identity and agent name are locked while connected: the microphone choice is
    # the field that takes keys now (Space opens it)
    field = console.el("device-select")
    field.focus()
    console.page.keyboard.down("Space")
    expect(console.el("ptt-button")).to_have_attribute("aria-pressed", "false")
    console.page.keyboard.up("Space")
    console.page.keyboard.press("Escape")
    expect(console.rpc_entries("start_turn")).to_have_count(0)

    # the same key outside the field talks
    field.evaluate("(el) => el.blur()")
    console.page.keyboard.down("Space")
    expect(console.el("ptt-button")).to_have_attribute("aria-pressed", "true")
    expect(console.rpc_entries("start_turn")).to_have_count(1)
    console.page.keyboard.up("Space")
    expect(console.rpc_entries("end_turn")).to_have_count(1)


def test_touch_hold_talks(listening: OpenConsole) -> None:
    console = listening("lights")
    page = console.page
    cdp = page.context.new_cdp_session(page)
    cdp.send("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 1})
    page.evaluate(
        """() => {
            window.__pointerTypes = [];
            document.querySelector('[data-testid="ptt-button"]').addEventListener(
                'pointerdown', (e) => window.__pointerTypes.push(e.pointerType));
        }"""
    )
    box = console.el("ptt-button").bounding_box()
    assert box is not None
    point = {"x": box["x"] + box["width"] / 2, "y": box["y"] + box["height"] / 2}

    def press() -> None:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [point]})
        expect(console.el("ptt-button")).to_have_attribute("aria-pressed", "true")

    def release() -> None:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        expect(console.el("ptt-button")).to_have_attribute("aria-pressed", "false")

    console.hold_through(press, release)

    assert page.evaluate("window.__pointerTypes") == ["touch"]
    expect_one_answered_turn(console, "turn on the lights")


def test_pointer_released_off_the_button_ends_the_turn(listening: OpenConsole) -> None:
    console = listening("lights")
    mouse = console.page.mouse
    button = console.el("ptt-button")
    box = button.bounding_box()
    assert box is not None
    elsewhere = (box["x"] + box["width"] / 2, box["y"] + box["height"] + 250)

    def press() -> None:
        button.hover()
        mouse.down()
        expect(button).to_have_attribute("aria-pressed", "true")
        mouse.move(*elsewhere, steps=5)  # the pointer leaves while the phrase plays
        hovered = console.page.evaluate(
            "([x, y]) => document.elementFromPoint(x, y)?.dataset.testid ?? null", elsewhere
        )
        assert hovered != "ptt-button"

    def release() -> None:
        expect(button).to_have_attribute("aria-pressed", "true")  # still talking
        mouse.up()
        expect(button).to_have_attribute("aria-pressed", "false")

    console.hold_through(press, release)
    expect_one_answered_turn(console, "turn on the lights")


# -- cancelling ---------------------------------------------------------------------------


def expect_cancelled_turn_then_next_turn_answered(console: Console) -> None:
    """The first turn was cancelled (cancel_turn ok, no end_turn); phrase 1 then makes a
    normal turn, and the only agent reply belongs to it: nothing answered the first."""
    expect(console.rpc_entries("cancel_turn")).to_have_count(1)
    expect(console.rpc_entries("end_turn")).to_have_count(0)
    expect(console.el("metrics").locator('tr[data-turn="1"]')).to_have_attribute(
        "data-outcome", "cancelled"
    )
    console.speak_turn(1)
    console.expect_user_final("close the door")
    replies = console.agent_replies()
    expect(replies).to_have_count(1)
    expect(replies.first).to_have_attribute("data-turn", "2")


def test_escape_while_holding_cancels(listening: OpenConsole) -> None:
    console = listening("cancel")
    console.cancel_mid_phrase(0)
    expect(console.el("event-log")).to_contain_text("turn cancelled: Esc")
    expect_cancelled_turn_then_next_turn_answered(console)


# Playwright's Chromium keeps every page focused and visible (another tab brought to the
# front changes nothing), so the page is told what a browser tells it: a window blur, or
# the document turning hidden.
@pytest.mark.parametrize("how", ["blur", "hidden"])
def test_focus_loss_while_holding_cancels(listening: OpenConsole, how: str) -> None:
    console = listening("cancel")
    page = console.page
    button = console.el("ptt-button")

    def lose_focus() -> None:
        if how == "blur":
            page.evaluate("window.dispatchEvent(new FocusEvent('blur'))")
        else:
            page.evaluate(
                """() => {
                    Object.defineProperty(document, 'visibilityState', { value: 'hidden' });
                    document.dispatchEvent(new Event('visibilitychange'));
                }"""
            )

    def press() -> None:
        console.press()

    def release() -> None:
        lose_focus()
        expect(button).to_have_attribute("aria-pressed", "false")
        page.mouse.up()

    console.hold_through(press, release, midway=True)
    expect(console.el("event-log")).to_contain_text(
        "turn cancelled: " + ("page hidden" if how == "hidden" else "window lost focus")
    )
    expect_cancelled_turn_then_next_turn_answered(console)


def test_cancel_button_cancels_the_held_turn(listening: OpenConsole) -> None:
    console = listening("cancel")
    keyboard = console.page.keyboard
    cancel = console.el("cancel-button")
    expect(cancel).to_be_disabled()

    def press() -> None:
        # the agent can be listening before the page's microphone is published: the key
        # is ignored while the button is disabled, as a person would see
        expect(console.el("ptt-button")).to_be_enabled()
        keyboard.down("Space")  # talk with the key, click Cancel with the mouse
        expect(console.el("ptt-button")).to_have_attribute("aria-pressed", "true")

    def release() -> None:
        cancel.click()
        expect(console.el("ptt-button")).to_have_attribute("aria-pressed", "false")
        keyboard.up("Space")

    console.hold_through(press, release, midway=True)
    expect(cancel).to_be_disabled()
    expect_cancelled_turn_then_next_turn_answered(console)


# -- the agent ------------------------------------------------------------------------------


def test_pause_in_one_tab_disables_talk_in_another_and_resume_enables_it(
    listening: OpenConsole, target: Target
) -> None:
    console = listening("door")
    other = second_tab(console, target, identity="qa-second")
    other.expect_agent_state("listening")
    expect(other.el("ptt-button")).to_be_enabled()

    console.el("pause-button").click()
    expect(console.rpc_entries("pause")).to_have_count(1)
    for tab in (console, other):
        tab.expect_agent_state("paused")
        expect(tab.el("ptt-button")).to_be_disabled()
        expect(tab.el("ptt-reason")).to_have_text("The agent is paused: resume it to talk.")
        expect(tab.el("pause-button")).to_be_disabled()
        expect(tab.el("resume-button")).to_be_enabled()
    # the second tab learnt it from the agent's ptt.paused attribute: it sent no RPC
    expect(other.el("event-log")).to_contain_text("agent paused")
    expect(other.el("event-log").locator('[data-source="rpc"]')).to_have_count(0)

    console.el("resume-button").click()
    expect(console.rpc_entries("resume")).to_have_count(1)
    for tab in (console, other):
        tab.expect_agent_state("listening")
        expect(tab.el("ptt-button")).to_be_enabled()
        expect(tab.el("pause-button")).to_be_enabled()
        expect(tab.el("resume-button")).to_be_disabled()
    expect(other.el("event-log")).to_contain_text("agent resumed")
    # talking works again, from the second tab
    other.speak_turn()
    other.expect_user_final("open the door")


def test_device_picker_lists_the_fake_microphone_and_switching_keeps_talking(
    listening: OpenConsole,
) -> None:
    console = listening("lights")
    options = console.el("device-select").locator("option")
    expect(options.first).to_have_text("System default")
    fake = options.filter(has_text=re.compile(r"^Fake .*Audio Input"))
    expect(fake).not_to_have_count(0)
    device = fake.last.get_attribute("value")
    assert device
    capture = console.el("mic-level").get_attribute("data-capture-started")
    assert capture

    console.el("device-select").select_option(device)

    expect(console.log_entries(f"microphone switched to {device}")).to_have_count(1)
    expect(console.el("device-select")).to_have_value(device)
    # the capture was reopened at once, not at the next press
    expect(console.el("mic-level")).not_to_have_attribute("data-capture-started", capture)
    console.speak_turn()
    console.expect_user_final("turn on the lights")


def test_agent_name_is_sent_and_a_room_without_agent_is_explained(
    launch_console: LaunchConsole,
    clips: dict[str, SpeechClip],
    target: Target,
    request: pytest.FixtureRequest,
) -> None:
    # ?agent= pre-fills the field; no worker serves this name: the server's dispatch is
    # refused (after its retry) and the page says why instead of waiting in silence
    console = launch_console(clips["door"], room=room_of(request), agent="no-such-agent")
    expect(console.el("agent-input")).to_have_value("no-such-agent")
    expect(console.el("agent-input")).to_be_disabled()
    reason = console.el("ptt-reason")
    expect(reason).to_contain_text("no-such-agent was refused (no worker with capacity)")
    expect(reason).to_contain_text("No worker registered as 'no-such-agent'")
    expect(console.log_entries("no-such-agent could not be dispatched")).to_have_count(1)
    expect(console.el("agent-state")).to_have_text("absent")
    expect(console.el("ptt-button")).to_be_disabled()
    console.el("rebuild-button").click()
    expect(console.log_entries("dispatched no-such-agent")).to_have_count(1)

    # a second tab types a real agent's name (the server's default) into the field: the
    # room exists already, and joining it still brings that agent (the server dispatches)
    page = console.page.context.new_page()
    other = Console(page, base_url=console.base_url, clip=console.clip)
    room = console.el("room-input").input_value()
    query = urlencode({"room": room, "identity": "qa-second", "agent": "no-such-agent"})
    page.goto(f"{console.base_url}/?{query}")
    real = page.locator("body").get_attribute("data-agent-name")
    assert real and real != "no-such-agent"
    page.get_by_label("Agent name").fill(real)
    if target.access_key:
        other.el("access-key-input").fill(target.access_key)
    with page.expect_request("**/api/token") as token_request:
        other.el("connect-button").click()
    body = token_request.value.post_data_json
    assert body is not None and body["agent"] == real
    expect(other.el("connection-state")).to_have_text("connected")
    for tab in (other, console):
        tab.expect_agent_state("listening")
        expect(tab.el("ptt-button")).to_be_enabled()
        expect(tab.el("ptt-reason")).to_have_text("")
