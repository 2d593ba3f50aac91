"""Take the README's screenshot: the console mid-turn, on a stack of its own.

    make screenshot
    PYTHONPATH=. .venv/bin/python scripts/screenshot.py [docs/console-mid-turn.png]

Starts the whole stack on free ports, opens the console in Debian's Chromium with the
fake microphone playing two phrases, completes one turn (its timeline kept open in the
turn inspector), then holds the talk button through the next phrase and shoots while the
interim transcript is on screen.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import expect

from scripts.demo import demo_console

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "console-mid-turn.png"
    with demo_console(["hello agent", "turn on the lights"], room="readme-demo") as console:
        page = console.page
        console.speak_turn(0)
        console.expect_agent_reply(1)
        console.expect_agent_state("listening")
        # keep turn 1's timeline open in the inspector while turn 2 is talked
        first = console.el("inspector").locator('[data-testid="inspector-turn"]')
        first = first.and_(page.locator('[data-turn="1"]'))
        expect(first).to_have_attribute("data-audio", "ready", timeout=20_000)
        toggle = first.locator('button[data-role="toggle"]')
        toggle.click()  # the newest is open by default: close, then open for good
        first.locator('button[data-role="toggle"]').click()

        def shoot() -> None:
            interim = console.entries("user", final=False)
            expect(interim.last).to_contain_text("turn", timeout=10_000)
            page.screenshot(path=str(out), full_page=True)

        console.speak_turn(1, during=shoot)
    print(f"saved {out}")


if __name__ == "__main__":
    main()
