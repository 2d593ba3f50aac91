"""Soak: one session doing random PTT operations for a bounded number of cycles, then
the log oracle, `ptt.errors`, every turn's correctness and the agent job's memory."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from stt_service.commands import PHRASES

from .resources import MB, pss_bytes
from .room import RoomClient
from .runner import AGENT_TIMEOUT, forwarded_errors, room_name
from .target import Target
from .turns import Talker, TurnResult

# operation -> weight; every one is something a person at the console does
OPERATIONS = {
    "say": 40,  # a phrase, the whole reply
    "barge_in": 10,  # a phrase, and the next press as soon as the reply is audible
    "cancel": 10,  # cancel mid-phrase
    "silence": 8,  # press and release in silence
    "tap": 12,  # press and release at once
    "rapid": 5,  # five taps in a burst
    "paused_refusal": 10,  # pause, a press refused with PAUSED, resume
    "wait": 5,
}
MEMORY_EVERY = 25  # cycles between job memory samples
Progress = Callable[[str], None]
Oracle = Callable[[], list[str]]


@dataclass
class SoakState:
    ops: Counter[str] = field(default_factory=Counter)
    judged: int = 0
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    memory: list[tuple[int, float]] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)  # files of what the agent heard

    def judge(self, cycle: int, op: str, why: list[str], progress: Progress) -> None:
        self.judged += 1
        if why:
            self.failures.append(f"cycle {cycle} {op}: {'; '.join(why)}")
            progress(f"soak: {self.failures[-1]}")
        else:
            self.ok += 1


async def run_soak(
    target: Target,
    cycles: int,
    *,
    progress: Progress,
    max_seconds: float,
    seed: int = 1,
    agent_pid: int | None = None,
    oracle: Oracle | None = None,
    evidence: Path | None = None,
) -> dict[str, Any]:
    """`cycles` random operations (or until `max_seconds`), then the verdict. For each
    wrong transcript, what the agent heard (get_turn_audio) is saved under `evidence`."""
    rng = random.Random(seed)
    state = SoakState()
    client = RoomClient(await target.grant(room_name("soak", "user"), "soak-user"))
    t0 = time.monotonic()
    done = 0
    try:
        await client.connect()
        if not await client.wait_agent_ready(AGENT_TIMEOUT):
            raise RuntimeError(f"no agent in room {client.grant.room} within {AGENT_TIMEOUT:g} s")
        talker = Talker(client)
        names, weights = list(OPERATIONS), list(OPERATIONS.values())
        for cycle in range(1, cycles + 1):
            if time.monotonic() - t0 > max_seconds:
                break
            op = rng.choices(names, weights)[0]
            state.ops[op] += 1
            await _operation(op, talker, rng, state, cycle, progress, evidence)
            done = cycle
            if cycle % MEMORY_EVERY == 0 or cycle == 1:
                _sample_memory(agent_pid, cycle, state)
                progress(
                    f"soak: cycle {cycle}/{cycles}, {state.ok}/{state.judged} right, "
                    f"{time.monotonic() - t0:.0f} s"
                )
        _sample_memory(agent_pid, done, state)
        errors_attr = client.agent_attr("ptt.errors")
        forwarded = forwarded_errors([client])
    finally:
        await client.aclose()
    bad = [*forwarded, *(oracle() if oracle else [])]
    result: dict[str, Any] = {
        "kind": "soak",
        "cycles": cycles,
        "cycles_done": done,
        "seconds": round(time.monotonic() - t0, 1),
        "operations": dict(state.ops),
        "turns_judged": state.judged,
        "turns_ok": state.ok,
        "failures": state.failures[:50],
        "evidence": state.evidence[:50],
        "oracle": bad[:50],
        "ptt_errors": errors_attr,
        "job_memory": _memory_summary(state.memory),
    }
    why = []
    if done < cycles:
        why.append(f"stopped at the time limit after {done} of {cycles} cycles")
    if state.failures:
        why.append(f"{len(state.failures)} operation(s) wrong, first: {state.failures[0]}")
    if bad:
        why.append(f"{len(bad)} bad agent log record(s), first: {bad[0]}")
    if errors_attr not in (None, "0"):
        why.append(f"ptt.errors is {errors_attr}")
    result["failed_because"] = why
    result["pass"] = not why
    return result


async def _operation(
    op: str,
    talker: Talker,
    rng: random.Random,
    state: SoakState,
    cycle: int,
    progress: Progress,
    evidence: Path | None = None,
) -> None:
    client = talker.client

    def judge(why: list[str]) -> None:
        state.judge(cycle, op, why, progress)

    if op in ("say", "barge_in"):
        turn = await talker.say(rng.choice(PHRASES), reply_end=op == "say")
        judge(turn.failures)
        if turn.failures and evidence is not None and isinstance(turn.agent.get("turn"), int):
            await _keep_evidence(client, turn, cycle, evidence, state)
    elif op == "cancel":
        turn = await talker.cancel(rng.choice(PHRASES), fraction=rng.uniform(0.2, 0.8))
        judge([*_refused(turn), *turn.failures])
    elif op == "silence":
        turn = await talker.say("", lead_ms=0, tail_ms=rng.uniform(300, 1200))
        judge([*_refused(turn), *turn.failures])
    elif op == "tap":
        turn = await talker.say("", lead_ms=0, tail_ms=rng.uniform(0, 80), judged=False)
        judge(_refused(turn))
    elif op == "rapid":
        outcomes = await talker.rapid(5, interval_ms=20)
        judge([f"{o.method}: {o.code}" for o in outcomes if not o.ok])
    elif op == "paused_refusal":
        why = []
        for method, want in (("pause", 0), ("start_turn", 4423), ("resume", 0)):
            outcome = await client.rpc(method)
            if outcome.code != want:
                why.append(f"{method} answered {outcome.code} ({outcome.response}), wanted {want}")
        judge(why)
    elif op == "wait":
        await asyncio.sleep(rng.uniform(0.2, 1.5))


async def _keep_evidence(
    client: Any, turn: TurnResult, cycle: int, folder: Path, state: SoakState
) -> None:
    """Save what the agent heard in a wrong turn, with what was said and heard."""
    got = await client.turn_audio(int(turn.agent["turn"]))
    if got is None:
        return
    info, wav = got
    base = folder / f"cycle-{cycle:04d}-turn-{turn.agent['turn']}"
    detail = {"said": turn.expected, "heard": turn.transcript, "agent": turn.agent, **info}
    await asyncio.to_thread(_write_evidence, base, wav, detail)
    state.evidence.append(str(base.with_suffix(".wav")))


def _write_evidence(base: Path, wav: bytes, detail: dict[str, Any]) -> None:
    base.parent.mkdir(parents=True, exist_ok=True)
    base.with_suffix(".wav").write_bytes(wav)
    base.with_suffix(".json").write_text(json.dumps(detail, indent=2))


def _refused(turn: TurnResult) -> list[str]:
    return [
        f"{o.method} refused: {o.code} {o.response}"
        for o in (turn.start, turn.end)
        if o is not None and not o.ok
    ]


def job_pid(agent_pid: int | None) -> int | None:
    """The process the soak's job runs in: the busiest of the agent worker and its
    children (a job process of its own, or the worker itself when jobs are its threads;
    a helper child that happens to exist at the first sample is not it)."""
    if agent_pid is None:
        return None
    try:
        worker = psutil.Process(agent_pid)
        candidates = [worker, *worker.children(recursive=True)]
    except psutil.Error:
        return None
    best, best_cpu = None, -1.0
    for proc in candidates:
        try:
            t = proc.cpu_times()
        except psutil.Error:
            continue
        if t.user + t.system > best_cpu:
            best, best_cpu = proc.pid, t.user + t.system
    return best


def _sample_memory(agent_pid: int | None, cycle: int, state: SoakState) -> None:
    pid = job_pid(agent_pid)
    pss = pss_bytes(pid) if pid else None
    if pss is not None:
        state.memory.append((cycle, round(pss / MB, 1)))


def _memory_summary(series: list[tuple[int, float]]) -> dict[str, Any] | None:
    if not series:
        return None
    # the first sample is taken after one cycle, when the job has warmed up
    start, end = series[0][1], series[-1][1]
    return {"start_mb": start, "end_mb": end, "growth_mb": round(end - start, 1), "series": series}
