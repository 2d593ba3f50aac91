"""The screenshots' shared setup: a stack of its own on free ports and the console open
in Debian's Chromium, with the fake microphone holding `phrases`, the agent listening."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import sync_playwright

from e2e.browser import CHROMIUM, CHROMIUM_ARGS
from e2e.console import Console
from e2e.speech import write_clip
from stack.supervisor import Stack, StackConfig


@contextmanager
def demo_console(phrases: list[str], room: str) -> Iterator[Console]:
    """The console joined to `room` as "developer", 1280 x 1000, its agent listening."""
    with tempfile.TemporaryDirectory() as tmp:
        clip = write_clip(Path(tmp), "demo", phrases)
        with Stack(StackConfig.ephemeral(Path(tmp) / "logs"), echo=None) as stack:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(
                    viewport={"width": 1280, "height": 1000}, permissions=["microphone"]
                )
                console = Console(page, base_url=stack.config.web_url, clip=clip)
                console.open(room=room, identity="developer")
                console.expect_agent_state("listening")
                try:
                    yield console
                finally:
                    browser.close()
