"""Take the turn inspector's screenshot: a clean turn and a clipped one, side by side.

    make screenshot
    PYTHONPATH=. .venv/bin/python scripts/inspector_shot.py [docs/inspector-clipped.png]

Starts the whole stack on free ports, opens the console in Debian's Chromium with the
fake microphone, takes one turn as a person does (press, then speak), then one pressed
0.6 s into the phrase (its first words never reach the agent), expands both turns in
the inspector and shoots the panel.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import expect

from scripts.demo import demo_console

ROOT = Path(__file__).resolve().parent.parent
READY = 20_000


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "inspector-clipped.png"
    with demo_console(["set a timer for five minutes"], room="inspector-demo") as console:
        page = console.page
        console.speak_turn(0)  # turn 1: press, then speak
        console.expect_agent_reply(1)
        console.expect_agent_state("listening")
        console.press_into_phrase(0, 600)  # turn 2: speaking before the press
        turns = console.el("inspector").locator('[data-testid="inspector-turn"]')
        for n in (1, 2):
            turn = turns.and_(page.locator(f'[data-turn="{n}"]'))
            expect(turn).to_have_attribute("data-audio", "ready", timeout=READY)
        expect(turns.first).not_to_have_attribute("data-marks", "", timeout=READY)
        older = turns.and_(page.locator('[data-turn="1"]'))
        older.locator('button[data-role="toggle"]').click()
        expect(older).to_have_attribute("data-expanded", "true")
        console.el("inspector").screenshot(path=str(out))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
