"""Each control of the console against the real stack, judged by what it visibly did:
the RPCs in the event log with their result, aria-pressed, transcripts, agent state."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Route, expect

from e2e.conftest import LaunchConsole, Target
from e2e.console import Console
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
    r"livekit::rtc_engine.*(data channel '\w+' closed unexpectedly"
    r"|failed to negotiate the publisher)"
)

# what the page logs when it decides to rejoin and when it tries
REJOINING = re.compile(r"\): rejoining |rejoin attempt")


def log_entries(console: Console, text: str | re.Pattern[str], level: str = "") -> Locator:
    """Event log entries containing `text`, of `level` if given."""
    level_attr = f'[data-level="{level}"]' if level else ""
    entries = console.el("event-log").locator(f'[data-testid="event-entry"]{level_attr}')
    return entries.filter(has_text=text)


@pytest.fixture
def ready_console(
    launch_console: LaunchConsole, clips: dict[str, SpeechClip], request: pytest.FixtureRequest
) -> Console:
    """The console in this test's room (room_of(request)) with the agent ready."""
    console = launch_console(clips["door"], room=room_of(request))
    expect_agent_ready(console)
    return console


def expect_agent_ready(console: Console) -> None:
    """The agent listens and its audio track reached the page: it has finished joining
    (deleting the room earlier races its publisher's negotiation in the Rust SDK)."""
    console.expect_agent_state("listening")
    expect(console.el("agent-audio")).to_have_attribute("data-track", "subscribed")


def wait_page_clock(console: Console, page_ms: float) -> None:
    """Until the page's clock reaches `page_ms` (performance.now())."""
    console.page.wait_for_function(
        "(t) => performance.now() >= t", arg=page_ms, polling=50, timeout=30_000
    )


def second_tab(console: Console, *, identity: str) -> Console:
    """Another tab of the same browser (same fake microphone) in the same room."""
    page = console.page.context.new_page()
    other = Console(page, base_url=console.base_url, clip=console.clip)
    room = console.el("room-input").input_value()
    other.open(room=room, identity=identity)
    return other


# -- rejoining by itself ----------------------------------------------------------------


@pytest.mark.expected_agent_errors(ROOM_DELETED_IN_AGENT)
def test_rejoin_after_the_server_deletes_the_room_keeps_transcript_and_talks(
    launch_console: LaunchConsole,
    clips: dict[str, SpeechClip],
    admin: RoomAdmin,
    request: pytest.FixtureRequest,
) -> None:
    room = room_of(request)
    console = launch_console(clips["turns"], room=room)
    console.expect_agent_state("listening")
    console.speak_turn(0)
    console.expect_user_final("hello agent")
    console.expect_agent_reply(1)
    capture = console.el("mic-level").get_attribute("data-capture-started")

    admin.delete_room(room)

    expect(console.el("connection-state")).to_have_text("reconnecting")
    expect(log_entries(console, "disconnected (ROOM_DELETED): rejoining", "warn")).to_have_count(1)
    expect(console.el("ptt-button")).to_be_disabled()
    expect(console.el("connection-state")).to_have_text("connected", timeout=30_000)
    expect(log_entries(console, "rejoin attempt 1:")).to_have_count(1)
    expect(log_entries(console, "rejoined")).to_have_count(1)
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
    expect(log_entries(console, "(PARTICIPANT_REMOVED)", "warn")).to_contain_text(
        "this participant was removed from the room; not rejoining"
    )
    expect(log_entries(console, REJOINING)).to_have_count(0)
    expect(console.el("status")).to_contain_text("removed from the room")
    expect(console.el("connect-button")).to_be_enabled()
    expect(console.el("agent-state")).to_have_text("absent")


def test_same_identity_in_another_tab_takes_over_without_a_loop(
    launch_console: LaunchConsole, clips: dict[str, SpeechClip], request: pytest.FixtureRequest
) -> None:
    console = launch_console(clips["door"], room=room_of(request))
    console.expect_agent_state("listening")

    other = second_tab(console, identity="qa-user")

    expect(console.el("connection-state")).to_have_text("disconnected")
    expect(log_entries(console, "(DUPLICATE_IDENTITY)", "warn")).to_contain_text(
        "another participant joined with the same identity; not rejoining"
    )
    expect(log_entries(console, REJOINING)).to_have_count(0)
    # the tab that took over keeps the room and the agent
    expect(other.el("connection-state")).to_have_text("connected")
    other.expect_agent_state("listening")
    expect(log_entries(other, "DUPLICATE_IDENTITY")).to_have_count(0)


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
    failed = log_entries(console, "web server restarting", "warn")
    expect(failed.nth(1)).to_contain_text("rejoin attempt 2 failed")
    expect(failed.nth(0)).to_contain_text("next in 1 s")
    expect(failed.nth(1)).to_contain_text("next in 2 s")
    expect(console.el("connection-state")).to_have_text("reconnecting")
    expect(console.el("ptt-reason")).to_contain_text("rejoining")
    assert len(token_requests) == 2

    console.el("disconnect-button").click()
    expect(console.el("connection-state")).to_have_text("disconnected")
    expect(log_entries(console, "disconnecting: no more rejoin attempts")).to_have_count(1)
    # past the moment attempt 3 was due: nothing was tried
    wait_page_clock(console, token_requests[-1] + 2_000 + 500)
    assert len(token_requests) == 2
    expect(log_entries(console, "rejoin attempt 3")).to_have_count(0)
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

    expect(log_entries(console, "rejoin attempt 1 failed", "error")).to_contain_text("giving up")
    expect(console.el("connection-state")).to_have_text("disconnected")
    expect(console.el("status")).to_contain_text("Rejoin failed: missing or wrong X-Access-Key")
    expect(console.el("connect-button")).to_be_enabled()
