"""Benchmark: the two STT reset strategies side by side (not a test; `make bench`).

For each strategy, N push-to-talk turns on a real AgentSession with the real STT
service and Deepgram plugin. Speech starts at the instant of press and `start_turn`
arrives a simulated round trip later. Prints a table and saves bench-results/agent.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

from agent.stt_reset import STRATEGIES
from e2e.speech import synthesize
from tests.agent_harness import Harness, stt_service

PHRASES = ["turn on the lights", "open the door", "what is the weather", "red green blue"]
ME = "bench"


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


async def run_strategy(stt_url: str, strategy: str, turns: int, rtt: float) -> dict[str, Any]:
    ready: list[float] = []
    final: list[float] = []
    words_lost = 0
    words_total = 0
    async with Harness(stt_url, strategy) as h:  # type: ignore[arg-type]
        await asyncio.sleep(1.0)  # let the first stream (and standby) connect
        for i in range(turns):
            phrase = PHRASES[i % len(PHRASES)]
            done = len(h.metrics())
            h.mic.say(synthesize(phrase))  # the user speaks at the instant of press
            await asyncio.sleep(rtt)  # ...and start_turn arrives one round trip later
            await h.controller.start_turn(ME, "")
            while h.mic.speaking:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)
            await h.controller.end_turn(ME, "")
            t0 = time.monotonic()
            while not [m for m in h.metrics()[done:] if m["release_to_final_ms"] is not None]:
                if time.monotonic() - t0 > 10:
                    raise RuntimeError("no final transcript within 10 s")
                await asyncio.sleep(0.01)
            m = [m for m in h.metrics()[done:] if m["release_to_final_ms"] is not None][0]
            if m["press_to_stt_ready_ms"] is not None:
                # the press happened `rtt` before start_turn reached the agent
                ready.append(m["press_to_stt_ready_ms"] + rtt * 1000)
            final.append(m["release_to_final_ms"])
            expected = phrase.split()
            got = m["transcript"].split()
            words_total += len(expected)
            words_lost += sum(1 for w in expected if w not in got)
            # let the reply play out before the next press, as a user would
            await asyncio.sleep(1.5)
    return {
        "strategy": strategy,
        "turns": turns,
        "simulated_rtt_ms": rtt * 1000,
        "press_to_stt_ready_ms": {"p50": pct(ready, 0.5), "p95": pct(ready, 0.95)},
        "press_to_stt_ready_after_rpc_ms": {
            "p50": pct([r - rtt * 1000 for r in ready], 0.5),
            "p95": pct([r - rtt * 1000 for r in ready], 0.95),
        },
        "release_to_final_ms": {"p50": pct(final, 0.5), "p95": pct(final, 0.95)},
        "mean_release_to_final_ms": round(statistics.fmean(final), 1) if final else None,
        "words_lost": words_lost,
        "words_total": words_total,
        "per_turn": {"ready_after_rpc_ms": [r - rtt * 1000 for r in ready], "final_ms": final},
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=40)  # p95 of 20 is the maximum
    parser.add_argument("--rtt-ms", type=float, default=100)
    parser.add_argument("--out", default="bench-results/agent.json")
    parser.add_argument("--strategy", choices=STRATEGIES, action="append", help="default: all")
    args = parser.parse_args()
    results = []
    with stt_service() as url:
        for strategy in args.strategy or STRATEGIES:
            results.append(await run_strategy(url, strategy, args.turns, args.rtt_ms / 1000))
    print(
        f"{'strategy':<10} {'ready p50':>10} {'ready p95':>10} {'final p50':>10} "
        f"{'final p95':>10} {'words lost':>11}"
    )
    for r in results:
        print(
            f"{r['strategy']:<10} {r['press_to_stt_ready_after_rpc_ms']['p50']!s:>10} "
            f"{r['press_to_stt_ready_after_rpc_ms']['p95']!s:>10} "
            f"{r['release_to_final_ms']['p50']!s:>10} {r['release_to_final_ms']['p95']!s:>10} "
            f"{r['words_lost']:>5}/{r['words_total']:<5}"
        )
    print("(ready = from start_turn reaching the agent; press→ready adds the simulated RTT)")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"time": time.time(), "results": results}, indent=2))
    print(f"saved {out}")


if __name__ == "__main__":
    asyncio.run(main())
