"""E2E fixtures: the stack (or a deployment), speech clips, Chromium with a fake mic."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page
from playwright.sync_api import Error as PlaywrightError

from agent import upstream
from e2e.browser import CHROMIUM, CHROMIUM_ARGS
from e2e.console import Console
from e2e.log_oracle import LogCursor, bad_records
from e2e.speech import SpeechClip, write_clip, write_silence
from stack.supervisor import Stack, StackConfig

PHRASES: dict[str, list[str]] = {
    "lights": ["turn on the lights"],
    "door": ["open the door"],
    "cancel": ["play some music", "close the door"],
    "turns": ["hello agent", "how many turns"],
    "silence": [],
    "long": ["set a timer for five minutes"],
}


AGENT_LOGS = ("agent", "upstream")  # the bundled agent and the upstream-style one


@dataclass
class Target:
    """What the suite runs against: our stack (with its logs) or a deployment."""

    url: str
    stack: Stack | None
    access_key: str | None = None  # the deployment's PTT_ACCESS_KEY, if it has one

    def log(self, name: str) -> Path | None:
        if self.stack is None or self.stack.config.log_dir is None:
            return None
        return self.stack.config.log_dir / f"{name}.log"

    def agent_logs(self) -> list[Path]:
        """Every agent worker's log: agent, agent-2, ... (cluster mode) and upstream."""
        if self.stack is None or self.stack.config.log_dir is None:
            return []
        names = [*self.stack.workers(), *AGENT_LOGS]
        return [self.stack.config.log_dir / f"{n}.log" for n in dict.fromkeys(names)]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--upstream-agent",
        default=None,
        help="against a deployment: the name of an agent with only the upstream PTT methods",
    )
    parser.addoption(
        "--access-key",
        default=None,
        help="against a deployment: its PTT_ACCESS_KEY (default: $PTT_ACCESS_KEY)",
    )


def stack_logs(config: pytest.Config) -> Path:
    """Where this test process's stacks log: one folder per pytest-xdist worker, which
    runs stacks of its own."""
    root = Path(config.rootpath) / "test-artifacts" / "stack-logs"
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return root / worker if worker else root


def pytest_sessionstart(session: pytest.Session) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # the controller: forget earlier runs
        shutil.rmtree(stack_logs(session.config), ignore_errors=True)


@pytest.fixture(scope="session")
def target(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    deployment = pytestconfig.getoption("base_url", default=None)
    if deployment:
        key = pytestconfig.getoption("access_key") or os.environ.get("PTT_ACCESS_KEY") or None
        yield Target(url=str(deployment).rstrip("/"), stack=None, access_key=key)
        return
    log_dir = stack_logs(pytestconfig)  # each xdist worker runs its own, on free ports
    shutil.rmtree(log_dir, ignore_errors=True)
    stack = Stack(StackConfig.ephemeral(log_dir), echo=None)
    stack.start()
    try:
        yield Target(url=stack.config.web_url, stack=stack)
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def upstream_agent(pytestconfig: pytest.Config, target: Target) -> str:
    """Name of an agent with only start_turn/end_turn/cancel_turn: ours in the local
    stack (agent/upstream.py), or `--upstream-agent NAME` for a deployment."""
    name = pytestconfig.getoption("upstream_agent")
    if name:
        return str(name)
    if target.stack is None or "upstream" not in target.stack.children:
        pytest.skip("no upstream-style agent: pass --upstream-agent NAME")
    return upstream.agent_name()


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SpeechClip]:
    folder = tmp_path_factory.mktemp("speech")
    return {name: write_clip(folder, name, phrase) for name, phrase in PHRASES.items()}


PAGE_AGENT_ERRORS = pytest.StashKey[list[str]]()
AGENT_ERROR_ENTRIES = '[data-testid="event-entry"][data-source="agent"][data-level="error"]'


@pytest.fixture(autouse=True)
def log_oracle(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails the test that made an agent log an ERROR or a leaked/cancelled task.

    Two sources: the agents' log files of the local stack, and (against any deployment
    running our agent) the ERROR records the agent forwarded to each page's event log.
    A test that causes a failure on purpose names the records it expects with
    `@pytest.mark.expected_agent_errors(regex, ...)`; only those are let through.
    """
    if "target" not in request.fixturenames:
        yield
        return
    target: Target = request.getfixturevalue("target")
    cursors = [LogCursor(p) for p in target.agent_logs()]
    for cursor in cursors:
        cursor.skip_to_end()
    request.node.stash[PAGE_AGENT_ERRORS] = []
    yield
    expected = [
        re.compile(pattern)
        for mark in request.node.iter_markers("expected_agent_errors")
        for pattern in mark.args
    ]
    found = [f"[{c.path.stem}.log] {line}" for c in cursors for line in bad_records(c.read_new())]
    found += [f"[page] {text}" for text in request.node.stash[PAGE_AGENT_ERRORS]]
    bad = [line for line in found if not any(p.search(line) for p in expected)]
    if bad:
        pytest.fail("an agent logged errors during this test:\n" + "\n".join(bad[:10]), False)


LaunchConsole = Callable[..., Console]


@pytest.fixture(scope="session")
def browser_type_launch_args(
    browser_type_launch_args: dict, tmp_path_factory: pytest.TempPathFactory
) -> dict:
    """Debian's Chromium; its own fake microphone plays silence (the pages' microphone
    is the suite's: see Console), so a capture the suite did not make is quiet."""
    silence = tmp_path_factory.mktemp("mic") / "silence.wav"
    write_silence(silence, seconds=1.0)
    args = [*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={silence}"]
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": args}


@pytest.fixture
def launch_console(
    browser: Browser, target: Target, request: pytest.FixtureRequest
) -> Iterator[LaunchConsole]:
    """Opens the console in a fresh browser context (one Chromium serves the session);
    its microphone says the phrases of `clip` when the test has it speak."""
    contexts: list[BrowserContext] = []
    pages: list[Page] = []

    def launch(
        clip: SpeechClip, *, room: str, identity: str = "qa-user", agent: str | None = None
    ) -> Console:
        # the permission lets enumerateDevices() name the fake devices (device picker)
        context = browser.new_context(permissions=["microphone"])
        contexts.append(context)
        context.tracing.start(screenshots=True, snapshots=True)
        page = context.new_page()
        pages.append(page)
        console = Console(page, base_url=target.url, clip=clip)
        console.open(room=room, identity=identity, agent=agent, access_key=target.access_key)
        return console

    yield launch
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    out = Path(request.config.rootpath) / "test-artifacts" / request.node.name
    page_errors = request.node.stash.get(PAGE_AGENT_ERRORS, [])
    for i, page in enumerate(pages):
        with contextlib.suppress(PlaywrightError):
            texts = page.locator(AGENT_ERROR_ENTRIES).all_inner_texts()
            page_errors += [" ".join(t.split()) for t in texts]  # time, source, message
        if failed:  # the page as the failure left it, then as it left the room
            out.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(PlaywrightError):
                page.screenshot(path=str(out / f"page{i}.png"))
        leave(page)
    for i, context in enumerate(contexts):
        with contextlib.suppress(PlaywrightError):
            context.tracing.stop(path=str(out / f"trace{i}.zip") if failed else None)
            context.close()


def leave(page: Page) -> None:
    """Leave the room as a user would, so the server drops us at once and the agent
    leaves soon after (closing the browser alone leaves a ghost for ~20 s)."""
    button = page.get_by_test_id("disconnect-button")
    try:
        if button.is_enabled(timeout=1_000):
            button.click(timeout=2_000)
            page.get_by_test_id("connection-state").filter(has_text="disconnected").wait_for(
                timeout=5_000
            )
    except PlaywrightError:
        pass  # the page is broken or gone: closing the browser ends the session anyway


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):  # type: ignore[no-untyped-def]
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.e2e)
    # chaos tests restart parts of the shared stack: they run after everything else
    items.sort(key=lambda item: item.get_closest_marker("chaos") is not None)
