"""Benchmark: reply latency as the page measures it, in Debian's Chromium (not a test;
`make bench`).

A fresh local stack (the supervisor of `make run`, on free ports), the console in the
browser with the e2e suite's microphone (phrases played into a Web Audio track the
page publishes as its microphone, through real WebRTC), N turns at a person's pace.
Each turn's figures are the page's own, read from its turns table: release -> first
agent transcript, release -> first agent audio (the page's level meter on the agent's
track), and the start_turn/end_turn round trips.

Where the browser's share goes, per turn (`breakdown`): the page's exported report
gives the agent's instants on the page's clock (aligned by the RPC round trips), and
bench/page_probe.js (an init script, bench only) when the reply's first frame left the
browser's jitter buffer:
release -> end_turn received -> the agent's first frame -> handed to WebRTC -> first
packet in the browser -> out of the jitter buffer -> the page's meter.

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
PROBE = Path(__file__).with_name("page_probe.js")
PHRASES = ["turn on the lights", "open the door", "what is the weather", "red green blue"]
COLUMNS = ("n", "outcome", "start_rtt", "end_rtt", "release_to_text", "release_to_audio")
FIGURES = ("release_to_audio", "release_to_text", "start_rtt", "end_rtt")
THINK_S = 1.0
AGENT_STAGES = ("committed", "reply_text", "tts_first_chunk", "first_frame", "playout")
# (name, from, to): instants on the page's clock, see breakdown()
SEGMENTS = (
    ("release_to_agent_end_turn", "release", "agent_end_turn"),
    ("agent_end_turn_to_first_frame", "agent_end_turn", "agent_first_frame"),
    ("agent_first_frame_to_playout", "agent_first_frame", "agent_playout"),
    ("agent_playout_to_delivered", "agent_playout", "delivered"),
    ("delivered_to_meter", "delivered", "meter"),
)


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


def export_report(console: Console, folder: Path) -> dict[str, Any]:
    with console.page.expect_download() as download:
        console.el("export-report-button").click()
    path = folder / "report.json"
    download.value.save_as(path)
    return json.loads(path.read_text())


def _on_page_clock(instants: dict[str, Any], alignment: dict[str, Any]) -> dict[str, Any]:
    return {k: None if v is None else v - alignment["offsetMs"] for k, v in instants.items()}


def busy_ms(long_tasks: list[list[float]], start: float, end: float) -> float:
    """How long the page's main thread spent in long tasks between `start` and `end`."""
    return round(sum(max(0.0, min(end, t + d) - max(start, t)) for t, d in long_tasks), 1)


def breakdown(
    report: dict[str, Any], spurts: list[dict[str, Any]], long_tasks: list[list[float]]
) -> list[dict[str, Any]]:
    """Each released turn's instants on the page's clock, and the segments between them."""
    rows = []
    for turn in report["turns"]:
        page, agent, alignment = turn["page"], turn["agent"] or {}, turn["alignment"]
        release = page.get("releaseAt")
        if release is None or not alignment or page.get("releaseToAudio") is None:
            continue
        on_page = _on_page_clock(
            {k: v for k, v in (agent.get("instants_ms") or {}).items() if k != "interims"},
            alignment,
        )
        spurt = next((s for s in spurts if s["deliveredAt"] > release), None)
        at = {
            "release": release,
            "agent_end_turn": on_page.get("end_turn"),
            "agent_first_frame": on_page.get("first_frame"),
            "agent_playout": on_page.get("playout"),
            "delivered": spurt and spurt["deliveredAt"],
            "meter": release + page["releaseToAudio"],
        }
        row: dict[str, Any] = {"n": turn["n"], "clock_uncertainty_ms": alignment["uncertaintyMs"]}
        for name, a, b in SEGMENTS:
            row[name] = None if at[a] is None or at[b] is None else round(at[b] - at[a], 1)
        text = page.get("releaseToText")
        row["main_thread_busy_to_text_ms"] = (
            None if text is None else busy_ms(long_tasks, release, release + text)
        )
        row["agent_stages_ms"] = agent.get("stages_ms")
        rows.append(row)
    return rows


def text_after_audio(turns: list[dict[str, Any]]) -> dict[str, int]:
    """How many turns showed the reply's first text after its first audio."""
    keys = ("release_to_text", "release_to_audio")
    both = [t for t in turns if all(t[k] is not None for k in keys)]
    late = [t for t in both if t["release_to_text"] > t["release_to_audio"]]
    return {"late": len(late), "of": len(both)}


def run(turns: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        clip = write_clip(Path(tmp), "bench", PHRASES)
        with Stack(StackConfig.ephemeral(OUT / "stack-logs-page"), echo=None) as stack:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(permissions=["microphone"])
                page.add_init_script(path=str(PROBE))
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
                report = export_report(console, Path(tmp))
                spurts = page.evaluate("window.__pttProbe.spurts")
                contexts = page.evaluate("window.__pttProbe.contextInfo()")
                jitter = page.evaluate("window.__pttProbe.jitter()")
                worklets = page.evaluate("window.__pttProbe.worklets")
                long_tasks = page.evaluate("window.__pttProbe.longTasks")
                browser.close()
    rows = breakdown(report, spurts, long_tasks)
    return {
        "kind": "page",
        "turns": got,
        "breakdown": rows,
        "audio_contexts": contexts,
        "jitter_buffer": jitter,
        "worklets": worklets,
        "summary": {key: summarize([t[key] for t in got]) for key in FIGURES},
        "agent_stages_summary": {
            name: summarize([(r["agent_stages_ms"] or {}).get(name) for r in rows])
            for name in AGENT_STAGES
        },
        "breakdown_summary": {name: summarize([r[name] for r in rows]) for name, _, _ in SEGMENTS},
        "text_after_audio": text_after_audio(got),
        "main_thread_busy_to_text": summarize([r["main_thread_busy_to_text_ms"] for r in rows]),
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
    late = result["text_after_audio"]
    print(f"turns with the reply's text after its audio: {late['late']} of {late['of']}")
    busy = result["main_thread_busy_to_text"]
    print(
        "the page's main thread in long tasks, release -> text: "
        f"p50 {busy['p50']}, max {busy['max']} ms"
    )
    print("\nWhere it goes (page clock; the agent's instants aligned by the RPC round trips):")
    for key, s in result["breakdown_summary"].items():
        p50, p95 = (("—" if v is None else f"{v:.0f}") for v in (s["p50"], s["p95"]))
        print(f"{key:<34}{s['n']:>4}{p50:>9}{p95:>9}")
    print("\nThe agent's stages (ms after it received end_turn):")
    for key, s in result["agent_stages_summary"].items():
        p50, p95 = (("—" if v is None else f"{v:.0f}") for v in (s["p50"], s["p95"]))
        print(f"{key:<34}{s['n']:>4}{p50:>9}{p95:>9}")
    print(f"AudioWorkletNodes the page made: {result['worklets']}")
    print(f"the agent track's jitter buffer (session averages): {result['jitter_buffer']}")
    print(f"saved {OUT / 'page.json'}")


if __name__ == "__main__":
    main()
