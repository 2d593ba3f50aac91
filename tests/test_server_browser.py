"""The page in headless Chromium against the real web server, without LiveKit.

Checks what needs no LiveKit server: the modules load and render, query parameters,
form validation, the error path when LiveKit is unreachable, the access key, and the
layout at phone width. Skipped when Debian's Chromium is not installed.
"""

from __future__ import annotations

import re
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace

import pytest
import uvicorn
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from e2e.browser import CHROMIUM, CHROMIUM_ARGS
from server.app import create_app
from server.config import Settings

pytestmark = [
    pytest.mark.unit,
    pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason="chromium is not installed"),
]

# nothing listens on the discard port: LiveKit is unreachable
SETTINGS = Settings(livekit_url="ws://127.0.0.1:9")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server(uvicorn.Server):
    """A uvicorn server that says when it is listening."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


def _serve(settings: Settings) -> Iterator[str]:
    port = _free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = _Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    if not server.ready.wait(10):
        raise RuntimeError("web server did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    yield from _serve(SETTINGS)


@pytest.fixture(scope="module")
def keyed_url() -> Iterator[str]:
    yield from _serve(replace(SETTINGS, access_key="right-key"))


@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def console_page(chromium_browser: Browser) -> Iterator[Page]:
    context = chromium_browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.set_default_timeout(10_000)
    page.problems = problems  # type: ignore[attr-defined]
    yield page
    context.close()


def _console_errors(page: Page) -> list[str]:
    errors: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type in ("error", "warning"):
            errors.append(f"{msg.type}: {msg.text}")

    page.on("console", on_console)
    return errors


def test_page_loads_without_console_errors(console_page: Page, base_url: str) -> None:
    page = console_page
    errors = _console_errors(page)
    with page.expect_response(re.compile(r"livekit-client\.esm\.mjs$")) as vendor:
        page.goto(base_url)
    assert vendor.value.ok
    # main.js ran: it generated an identity and rendered the disabled reasons
    expect(page.get_by_test_id("identity-input")).to_have_value(re.compile(r"^user-[a-z0-9]{4}$"))
    expect(page.get_by_test_id("room-input")).to_have_value("ptt-test")
    expect(page.get_by_test_id("ptt-reason")).to_have_text("Connect to a room to talk.")
    expect(page.get_by_test_id("ptt-button")).to_be_disabled()
    expect(page.get_by_test_id("disconnect-button")).to_be_disabled()
    expect(page.get_by_test_id("connect-button")).to_be_enabled()
    expect(page.get_by_test_id("device-select").locator("option").first).to_have_text(
        "System default"
    )
    assert errors == []
    assert page.problems == []  # type: ignore[attr-defined]


def test_page_query_parameters_prefill(console_page: Page, base_url: str) -> None:
    page = console_page
    page.goto(f"{base_url}/?room=my-room&identity=qa.user_1")
    expect(page.get_by_test_id("room-input")).to_have_value("my-room")
    expect(page.get_by_test_id("identity-input")).to_have_value("qa.user_1")
    expect(page.get_by_test_id("connection-state")).to_have_text("disconnected")


def test_page_invalid_room_is_refused_before_connecting(console_page: Page, base_url: str) -> None:
    page = console_page
    page.goto(base_url)
    page.get_by_test_id("room-input").fill("bad room!")
    page.get_by_test_id("connect-button").click()
    expect(page.get_by_test_id("status")).to_contain_text("room may only use")
    expect(page.get_by_test_id("status")).to_have_attribute("data-level", "error")
    expect(page.locator('[data-testid="event-entry"][data-level="error"]')).to_have_count(1)
    expect(page.get_by_test_id("connection-state")).to_have_text("disconnected")


def test_page_unreachable_livekit_returns_to_disconnected(
    console_page: Page, base_url: str
) -> None:
    page = console_page
    page.goto(f"{base_url}/?room=r1&identity=u1&autoconnect=1")
    expect(page.get_by_test_id("status")).to_contain_text("Connect failed", timeout=20_000)
    expect(page.get_by_test_id("connection-state")).to_have_text("disconnected")
    expect(page.get_by_test_id("connect-button")).to_be_enabled()
    expect(page.get_by_test_id("room-input")).to_be_enabled()
    errors = page.locator('[data-testid="event-entry"][data-level="error"]')
    expect(errors.first).to_contain_text("connect failed")


def test_page_access_key_is_required_and_checked(console_page: Page, keyed_url: str) -> None:
    page = console_page
    page.goto(f"{keyed_url}/?room=r1&identity=u1")
    page.get_by_test_id("connect-button").click()
    expect(page.get_by_test_id("status")).to_contain_text("access key is required")
    page.get_by_test_id("access-key-input").fill("wrong-key")
    page.get_by_test_id("connect-button").click()
    expect(page.get_by_test_id("status")).to_contain_text("X-Access-Key")
    expect(page.get_by_test_id("connection-state")).to_have_text("disconnected")


def test_page_fits_phone_width(chromium_browser: Browser, base_url: str) -> None:
    page = chromium_browser.new_page(viewport={"width": 390, "height": 844})
    try:
        page.goto(base_url)
        expect(page.get_by_test_id("identity-input")).not_to_have_value("")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
        for testid in ("ptt-button", "connect-button", "pause-button", "event-log"):
            box = page.get_by_test_id(testid).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, testid
    finally:
        page.close()


def test_page_space_in_inputs_types_instead_of_talking(console_page: Page, base_url: str) -> None:
    page = console_page
    page.goto(base_url)
    room = page.get_by_test_id("room-input")
    room.fill("")
    room.press_sequentially("a b")
    expect(room).to_have_value("a b")
    expect(page.get_by_test_id("ptt-button")).to_have_attribute("aria-pressed", "false")


def test_page_agent_name_defaults_to_server_setting(console_page: Page, base_url: str) -> None:
    page = console_page
    page.goto(base_url)
    agent = page.get_by_label("Agent name")
    expect(agent).to_have_value("ptt-agent")
    expect(agent).to_have_attribute("data-testid", "agent-input")


def test_page_agent_name_query_parameter_is_sent_with_the_token_request(
    console_page: Page, base_url: str
) -> None:
    page = console_page
    page.goto(f"{base_url}/?room=r1&identity=u1&agent=my-agent.v2")
    expect(page.get_by_test_id("agent-input")).to_have_value("my-agent.v2")
    with page.expect_request("**/api/token") as sent:
        page.get_by_test_id("connect-button").click()
    assert sent.value.post_data_json == {"room": "r1", "identity": "u1", "agent": "my-agent.v2"}
    # LiveKit is unreachable here: back to disconnected, the field editable again
    expect(page.get_by_test_id("status")).to_contain_text("Connect failed", timeout=20_000)
    expect(page.get_by_test_id("agent-input")).to_be_enabled()


def test_page_edited_agent_name_is_sent(console_page: Page, base_url: str) -> None:
    page = console_page
    page.goto(f"{base_url}/?room=r1&identity=u1")
    page.get_by_test_id("agent-input").fill("other-agent")
    with page.expect_request("**/api/token") as sent:
        page.get_by_test_id("connect-button").click()
    assert sent.value.post_data_json["agent"] == "other-agent"


def test_page_invalid_agent_name_is_refused_before_connecting(
    console_page: Page, base_url: str
) -> None:
    page = console_page
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/api/" in r.url else None)
    page.goto(f"{base_url}/?room=r1&identity=u1")
    agent = page.get_by_test_id("agent-input")
    for bad, needle in (("", "agent name is required"), ("my agent", "agent name may only use")):
        agent.fill(bad)
        page.get_by_test_id("connect-button").click()
        expect(page.get_by_test_id("status")).to_contain_text(needle)
    expect(page.get_by_test_id("connection-state")).to_have_text("disconnected")
    assert requests == []
