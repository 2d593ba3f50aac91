"""Benchmark: reply latency as the page measures it, in Debian's Chromium (not a test;
`make bench`).

A fresh local stack (the supervisor of `make run`, on free ports), the console in the
browser with the e2e suite's microphone (phrases played into a Web Audio track the
page publishes as its microphone, through real WebRTC), N turns at a person's pace.
Each turn's figures are the page's own, read from its turns table: release -> first
agent transcript, release -> first agent audio (the page's level meter on the agent's
track), and the start_turn/end_turn round trips.

Prints p50/p95, saves bench-results/page.json.

    PYTHONPATH=. .venv/bin/python -m bench.bench_page [--turns 20]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from e2e.browser import CHROMIUM, CHROMIUM_ARGS
from e2e.console import Console
from e2e.speech import write_clip
from headless.stats import summarize
from stack.supervisor import Stack, StackConfig

OUT = Path("bench-results")
PHRASES = ["turn on the lights", "open the door", "what is the weather", "red green blue"]
COLUMNS = ("n", "outcome", "start_rtt", "end_rtt", "release_to_text", "release_to_audio")
FIGURES = ("release_to_audio", "release_to_text", "start_rtt", "end_rtt")
THINK_S = 1.0


def _ms(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None  # "—": not measured for this turn


def read_turns(console: Console) -> list[dict[str, Any]]:
    """The page's turns table, one dict per turn."""
    rows = console.page.eval_on_selector_all(
        'tbody[data-role="turns"] tr',
        "rows => rows.map(r => [...r.cells].map(c => c.textContent.trim()))",
    )
    turns = []
    for cells in rows:
        turn: dict[str, Any] = dict(zip(COLUMNS, cells, strict=False))
        for key in FIGURES:
            turn[key] = _ms(str(turn.get(key, "")))
        turns.append(turn)
    return turns


def run(turns: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        clip = write_clip(Path(tmp), "bench", PHRASES)
        with Stack(StackConfig.ephemeral(OUT / "stack-logs-page"), echo=None) as stack:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(permissions=["microphone"])
                console = Console(page, base_url=stack.config.web_url, clip=clip)
                console.open(room=f"bench-page-{int(time.time())}", identity="bench")
                console.expect_agent_state("listening")
                time.sleep(2.0)  # the agent's standby stream connects
                for i in range(turns):
                    console.speak_turn(i % len(PHRASES))
                    console.expect_agent_reply(i + 1)
                    console.expect_agent_state("listening")
                    time.sleep(THINK_S)
                got = read_turns(console)
                browser.close()
    return {
        "kind": "page",
        "turns": got,
        "summary": {key: summarize([t[key] for t in got]) for key in FIGURES},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=20)
    args = parser.parse_args()
    result = run(args.turns)
    OUT.mkdir(exist_ok=True)
    (OUT / "page.json").write_text(json.dumps(result, indent=2))
    print(f"\nThe page's own figures, {args.turns} turns, one session (ms):")
    print(f"{'figure':<22}{'n':>4}{'p50':>9}{'p95':>9}{'max':>9}")
    for key, s in result["summary"].items():
        p50, p95, top = (("—" if v is None else f"{v:.0f}") for v in (s["p50"], s["p95"], s["max"]))
        print(f"{key:<22}{s['n']:>4}{p50:>9}{p95:>9}{top:>9}")
    print(f"saved {OUT / 'page.json'}")


if __name__ == "__main__":
    main()
