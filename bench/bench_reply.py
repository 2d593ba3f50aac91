"""Benchmark: reply latency, from the release to the agent's first audible word (not a
test; `make bench`).

Per STT reset strategy, a fresh local stack (the supervisor of `make run`, on free ports)
and one headless participant through LiveKit saying N phrases at a person's pace. For
each turn it records:

- at the client: release (end_turn sent) -> first audible agent audio, and -> the
  committed transcript;
- at the agent (`ptt.metrics` `stages_ms`): committed, reply text, TTS first chunk,
  first frame handed to the room's output, playout (handed to WebRTC), reply done.

Prints p50/p95 tables, saves bench-results/reply.json and a PNG of the stages.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from pathlib import Path
from typing import Any

from agent.stt_reset import STRATEGIES
from headless.local import start_stack
from headless.room import RoomClient
from headless.stats import summarize
from headless.target import ConsoleTarget
from headless.turns import Talker, TurnResult

OUT = Path("bench-results")
PHRASES = ["turn on the lights", "open the door", "what is the weather", "red green blue"]
STAGES = ("committed", "reply_text", "tts_first_chunk", "first_frame", "playout")
THINK_S = (0.8, 1.4)


async def run_strategy(strategy: str, turns: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    stack = start_stack(OUT / f"stack-logs-reply-{strategy}", extra_env={"PTT_STT_RESET": strategy})
    results: list[TurnResult] = []
    text_ms: list[float | None] = []  # release -> the reply's first text at the client
    try:
        target = ConsoleTarget(stack.config.web_url)
        client: RoomClient | None = None
        try:
            client = RoomClient(await target.grant(f"bench-reply-{strategy}-{seed}", "bench"))
            await client.connect()
            if not await client.wait_agent_ready(30):
                raise RuntimeError("no agent within 30 s")
            await asyncio.sleep(2.0)  # the agent's standby stream connects
            talker = Talker(client)
            for i in range(turns):
                turn = await talker.say(PHRASES[i % len(PHRASES)])
                results.append(turn)
                text_ms.append(_first_text_ms(client, turn))
                await asyncio.sleep(rng.uniform(*THINK_S))
        finally:
            if client is not None:
                await client.aclose()
            await target.aclose()
    finally:
        stack.stop()
    right = [t for t in results if t.ok]
    texts = [ms for t, ms in zip(results, text_ms, strict=True) if t.ok]
    stages = {s: summarize(_stage(t, s) for t in right) for s in STAGES}
    return {
        "strategy": strategy,
        "turns": len(results),
        "turns_ok": len(right),
        "failures": [f for t in results for f in t.failures],
        "client_release_to_audio_ms": summarize(t.release_to_audio_ms for t in right),
        "client_release_to_transcript_ms": summarize(t.release_to_transcript_ms for t in right),
        "client_release_to_reply_text_ms": summarize(texts),
        "text_after_audio_turns": sum(
            1
            for t, ms in zip(results, text_ms, strict=True)
            if t.ok
            and ms is not None
            and t.release_to_audio_ms is not None
            and ms > t.release_to_audio_ms
        ),
        "agent_stages_ms": stages,
        "per_turn": [
            {
                "phrase": t.phrase,
                "ok": t.ok,
                "client_release_to_audio_ms": t.release_to_audio_ms,
                "agent_stages_ms": t.agent.get("stages_ms"),
            }
            for t in results
        ],
    }


def _first_text_ms(client: RoomClient, turn: TurnResult) -> float | None:
    """Release -> the first text of the agent's reply segments, on the client's clock."""
    release = turn.released_at
    if release is None:
        return None
    firsts = [
        s.first_at
        for s in client.got.segments.values()
        if s.role == "agent" and s.first_at >= release
    ]
    return round((min(firsts) - release) * 1000, 1) if firsts else None


def _stage(turn: TurnResult, stage: str) -> float | None:
    value = (turn.agent.get("stages_ms") or {}).get(stage)
    return float(value) if isinstance(value, int | float) else None


def table(results: list[dict[str, Any]]) -> str:
    rows = [f"{'figure (ms after release)':<34} {'strategy':<10} {'p50':>7} {'p95':>7} {'n':>4}"]
    for r in results:
        figures = [
            ("client: first audible audio", r["client_release_to_audio_ms"]),
            ("client: committed transcript", r["client_release_to_transcript_ms"]),
            ("client: first reply text", r["client_release_to_reply_text_ms"]),
            *((f"agent: {s}", r["agent_stages_ms"][s]) for s in STAGES),
        ]
        for name, s in figures:
            rows.append(
                f"{name:<34} {r['strategy']:<10} {s['p50']!s:>7} {s['p95']!s:>7} {s['n']:>4}"
            )
        rows.append(f"{'turns right':<34} {r['strategy']:<10} {r['turns_ok']}/{r['turns']}")
        rows.append(
            f"{'turns with text after audio':<34} {r['strategy']:<10} {r['text_after_audio_turns']}"
        )
    return "\n".join(rows)


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [*(f"agent {s}" for s in STAGES), "client audible"]
    fig, ax = plt.subplots(figsize=(8, 3.5))
    width = 0.8 / max(1, len(results))
    for i, r in enumerate(results):
        p50 = [r["agent_stages_ms"][s]["p50"] or 0 for s in STAGES]
        p50.append(r["client_release_to_audio_ms"]["p50"] or 0)
        xs = [x + i * width for x in range(len(labels))]
        ax.bar(xs, p50, width, label=r["strategy"])
    ax.set_xticks([x + width * (len(results) - 1) / 2 for x in range(len(labels))])
    ax.set_xticklabels(labels, rotation=20, ha="right")
    ax.set_ylabel("ms after release (p50)")
    ax.set_title("Reply latency by stage, one session")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=24, help="turns per strategy (>= 20)")
    parser.add_argument("--strategies", nargs="*", default=list(STRATEGIES))
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    results = [asyncio.run(run_strategy(s, args.turns, args.seed)) for s in args.strategies]
    print("\nReply latency (one headless session through LiveKit, this machine)")
    print(table(results))
    (OUT / "reply.json").write_text(json.dumps(results, indent=2))
    plot(results, OUT / "reply.png")
    print(f"\nsaved {OUT / 'reply.json'} and {OUT / 'reply.png'}")


if __name__ == "__main__":
    main()
