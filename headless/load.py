"""Load: N concurrent sessions, each in its own room, talking at a person's pace; a ramp
of such steps, each judged on declared thresholds, and `n_max`, the largest that passed."""

from __future__ import annotations

import asyncio
import math
import multiprocessing as mp
import os
import random
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from stt_service.commands import PHRASES

from .resources import ProcessSampler, cpu_pct_between
from .room import RoomClient
from .runner import room_name
from .stats import summarize
from .target import Target, from_spec
from .turns import Talker, TurnResult

DEFAULT_RAMP = (1, 2, 4, 8, 12, 16, 20, 24, 32)
MAX_SESSIONS = 64
# the person: a phrase, the reply, then a pause before the next press
THINK_S = (0.8, 1.6)
RoomsOccupied = Callable[[list[str]], Awaitable[int]]
Progress = Callable[[str], None]
TIMINGS = {
    "release_to_transcript_ms": lambda t: t.release_to_transcript_ms,
    "release_to_audio_ms": lambda t: t.release_to_audio_ms,
    "start_turn_rtt_ms": lambda t: t.start.rtt_ms if t.start and t.start.ok else None,
    "end_turn_rtt_ms": lambda t: t.end.rtt_ms if t.end and t.end.ok else None,
    "agent_release_to_final_ms": lambda t: t.agent.get("release_to_final_ms"),
    "agent_release_to_first_audio_ms": lambda t: t.agent.get("release_to_first_audio_ms"),
    "agent_press_to_stt_ready_ms": lambda t: t.agent.get("press_to_stt_ready_ms"),
}


@dataclass(frozen=True)
class Thresholds:
    """What a step must meet to pass (declared, printed with the table)."""

    p95_release_to_transcript_ms: float = 300.0
    all_turns_right: bool = True
    every_session_gets_agent: bool = True

    def judge(self, step: dict[str, Any]) -> list[str]:
        why = []
        if self.every_session_gets_agent and step["no_agent"]:
            why.append(f"{step['no_agent']} session(s) got no agent")
        if self.all_turns_right and step["turns_ok"] < step["turns"]:
            why.append(f"{step['turns'] - step['turns_ok']} of {step['turns']} turns wrong")
        p95 = step["release_to_transcript_ms"]["p95"]
        if p95 is None or p95 > self.p95_release_to_transcript_ms:
            why.append(f"p95 release->transcript {p95} ms > {self.p95_release_to_transcript_ms:g}")
        return why


@dataclass
class LoadOptions:
    turns: int = 3
    stagger_s: float = 3.0  # sessions join spread over this many seconds
    # first presses after the quiet window spread over this many seconds, as people who
    # arrived apart start apart (None: the join spread; 0: everyone presses at once)
    press_spread_s: float | None = None
    agent_timeout: float = 20.0
    seed: int = 1
    thresholds: Thresholds = field(default_factory=Thresholds)
    max_seconds: float = 1800.0  # the whole run stops by itself after this
    per_process: int = 4  # sessions per generator process
    idle_s: float = 8.0  # everyone connected and quiet this long before talking (0: none)
    idle_lead_s: float = 6.0  # after the last join, before the quiet window: agents arrive


@dataclass
class SessionOutcome:
    room: str
    got_agent: bool = False
    agent_wait_ms: float | None = None
    refused: str | None = None  # the console's reason when it could dispatch no agent
    turns: list[TurnResult] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class SessionPlan:
    room: str
    phrases: list[str]
    start_at: float  # time.monotonic() (one clock for every process of this machine)
    seed: float
    talk_at: float = 0.0  # the first press not before this (after the step's quiet window)


async def run_session(target: Target, plan: SessionPlan, opts: LoadOptions) -> SessionOutcome:
    """One person: join, wait for the agent, talk `phrases` at a person's pace, leave."""
    out = SessionOutcome(plan.room)
    rng = random.Random(plan.seed)
    await asyncio.sleep(max(0.0, plan.start_at - time.monotonic()))
    client: RoomClient | None = None
    try:
        grant = await target.grant(plan.room, "load-user")
        if grant.dispatch and grant.dispatch.get("status") == "refused":
            out.refused = str(grant.dispatch.get("reason") or "refused")
            return out  # a clean refusal: nobody to talk to, said at once
        client = RoomClient(grant)
        await client.connect()
        t0 = time.monotonic()
        out.got_agent = await client.wait_agent_ready(opts.agent_timeout)
        if not out.got_agent:
            return out
        out.agent_wait_ms = round((time.monotonic() - t0) * 1000, 1)
        await asyncio.sleep(max(0.0, plan.talk_at - time.monotonic()))
        talker = Talker(client)
        for phrase in plan.phrases:
            out.turns.append(await talker.say(phrase))
            await asyncio.sleep(rng.uniform(*THINK_S))
    except Exception as e:  # one session's failure is a figure of the step, not the end
        out.error = f"{type(e).__name__}: {e}"
    finally:
        if client is not None:
            await client.aclose()
    return out


def _group(
    spec: dict[str, Any], plans: list[SessionPlan], opts: LoadOptions
) -> list[SessionOutcome]:
    """A generator process's share of a step (the entry point of a pool worker)."""

    async def main() -> list[SessionOutcome]:
        target = from_spec(spec)
        try:
            return list(await asyncio.gather(*(run_session(target, p, opts) for p in plans)))
        finally:
            await target.aclose()

    return asyncio.run(main())


def _warm() -> int:
    import livekit.rtc  # noqa: F401  (the import is most of a worker's start-up)

    time.sleep(0.3)  # long enough that each warm-up call lands on another worker
    return os.getpid()


class Generators:
    """Sessions spread over generator processes, `per_process` each. The Python SDK hands
    every FFI event to every subscriber of its process (each audio stream, each pending
    capture), so one process with N sessions costs O(N^2); a few sessions a process keep
    the generator's CPU proportional to N."""

    def __init__(self, per_process: int, max_sessions: int) -> None:
        self.per_process = max(1, per_process)
        self.workers = max(1, math.ceil(max_sessions / self.per_process))
        self._pool: ProcessPoolExecutor | None = None

    async def start(self) -> None:
        if self.workers > 1:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"))
            loop = asyncio.get_running_loop()
            await asyncio.gather(
                *(loop.run_in_executor(self._pool, _warm) for _ in range(self.workers))
            )

    async def run(
        self, target: Target, plans: list[SessionPlan], opts: LoadOptions
    ) -> list[SessionOutcome]:
        groups = [plans[i : i + self.per_process] for i in range(0, len(plans), self.per_process)]
        if self._pool is None or len(groups) == 1:
            return list(await asyncio.gather(*(run_session(target, p, opts) for p in plans)))
        loop = asyncio.get_running_loop()
        spec = target.spec()
        done = await asyncio.gather(
            *(loop.run_in_executor(self._pool, _group, spec, g, opts) for g in groups)
        )
        return [o for group in done for o in group]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


async def run_step(
    target: Target,
    n: int,
    opts: LoadOptions,
    sampler: ProcessSampler,
    generators: Generators,
    *,
    rooms_occupied: RoomsOccupied | None = None,
) -> dict[str, Any]:
    plans, quiet_from, talk_at = plan_step(n, opts, time.monotonic() + 0.5)
    quiet: dict[str, float] = {}

    async def measure_quiet() -> None:
        if opts.idle_s > 0:
            await asyncio.sleep(max(0.0, quiet_from - time.monotonic()))
            before, t_quiet = sampler.cpu_seconds(), time.monotonic()
            await asyncio.sleep(max(0.0, talk_at - time.monotonic()))
            wall = time.monotonic() - t_quiet
            quiet.update(cpu_pct_between(before, sampler.cpu_seconds(), wall))
        sampler.begin()  # the step's figures are those of its talking part

    t0 = time.monotonic()
    quiet_task = asyncio.ensure_future(measure_quiet())
    try:
        outcomes = await generators.run(target, plans, opts)
    finally:
        if not quiet_task.done():
            quiet_task.cancel()
            sampler.begin()
    seconds = time.monotonic() - t0
    resources = sampler.end()
    settle = await _settle([p.room for p in plans], rooms_occupied)
    step = step_summary(n, outcomes, opts, seconds=seconds, settle_s=settle, resources=resources)
    step["idle_cpu_pct_per_session"] = {role: round(v / n, 2) for role, v in quiet.items()}
    step["idle_s"] = opts.idle_s
    return step


def plan_step(n: int, opts: LoadOptions, t_start: float) -> tuple[list[SessionPlan], float, float]:
    """A step's sessions, and when its quiet window starts and ends (0.0: no window).
    Joins spread over `stagger_s` from `t_start`; each first press comes after the window,
    spread over `press_spread`: people who arrived apart do not press in the same instant."""
    rng = random.Random(opts.seed * 1000 + n)
    delays = sorted(rng.uniform(0, opts.stagger_s) for _ in range(n)) if n > 1 else [0.0]
    quiet_from = t_start + max(delays) + opts.idle_lead_s
    talk_at = quiet_from + opts.idle_s if opts.idle_s > 0 else 0.0
    spread = press_spread(opts)
    plans = [
        SessionPlan(
            room=room_name("load", f"n{n}-s{i}"),
            phrases=[rng.choice(PHRASES) for _ in range(opts.turns)],
            start_at=t_start + delays[i],
            seed=rng.random(),
            talk_at=talk_at + rng.uniform(0, spread) if talk_at else 0.0,
        )
        for i in range(n)
    ]
    return plans, quiet_from, talk_at


def press_spread(opts: LoadOptions) -> float:
    """Seconds over which a step's first presses are spread after its quiet window."""
    return opts.stagger_s if opts.press_spread_s is None else max(0.0, opts.press_spread_s)


async def _settle(
    rooms: list[str], rooms_occupied: RoomsOccupied | None, within: float = 60.0
) -> float | None:
    """Seconds from the step's end until no room of the step has a participant left (the
    agent jobs have gone, their slots are free), or None when that cannot be seen from
    here (then a short fixed pause)."""
    t0 = time.monotonic()
    if rooms_occupied is None:
        await asyncio.sleep(3.0)
        return None
    while time.monotonic() - t0 < within:
        if await rooms_occupied(rooms) == 0:
            break
        await asyncio.sleep(0.5)
    return round(time.monotonic() - t0, 1)


def turn_failures(turn: TurnResult) -> list[str]:
    """Why a load turn is not right: its own failures, or a press or release the agent
    refused (the talker stops at a refused RPC without judging the turn)."""
    refused = [
        f"{r.method} refused: {r.code} {r.response}"
        for r in (turn.start, turn.end)
        if r is not None and not r.ok
    ]
    missing = [] if turn.start is not None else ["start_turn never answered"]
    return [*refused, *missing, *turn.failures]


def step_summary(
    n: int,
    outcomes: list[SessionOutcome],
    opts: LoadOptions,
    *,
    seconds: float,
    settle_s: float | None,
    resources: dict[str, Any],
) -> dict[str, Any]:
    turns = [t for o in outcomes for t in o.turns]
    rpc_errors = sum(1 for t in turns for r in (t.start, t.end) if r is not None and not r.ok)
    failures = [(t, turn_failures(t)) for t in turns]
    wrong = [{"said": t.phrase, "heard": t.transcript, "failures": f} for t, f in failures if f]
    step: dict[str, Any] = {
        "sessions": n,
        "turns": n * opts.turns,  # planned: a session without an agent loses its turns
        "turns_done": len(turns),
        "turns_ok": len(turns) - len(wrong),
        "no_agent": sum(not o.got_agent and o.error is None for o in outcomes),
        "refused": sum(o.refused is not None for o in outcomes),
        "refusal_reasons": sorted({o.refused for o in outcomes if o.refused}),
        "session_errors": [o.error for o in outcomes if o.error],
        "rpc_errors": rpc_errors,
        "agent_wait_ms": summarize(o.agent_wait_ms for o in outcomes),
        **{name: summarize(f(t) for t in turns) for name, f in TIMINGS.items()},
        "wrong": wrong[:10],
        "seconds": round(seconds, 1),
        "settle_s": settle_s,
        "resources": resources,
    }
    # each part's CPU (% of one core) per session: the budget a deployment plans with
    step["cpu_pct_per_session"] = {
        role: round(r["cpu_pct"] / n, 2)
        for role, r in resources.items()
        if isinstance(r, dict) and "cpu_pct" in r
    }
    step["failed_because"] = opts.thresholds.judge(step)
    step["pass"] = not step["failed_because"]
    return step


async def run_ramp(
    target: Target,
    ramp: list[int],
    opts: LoadOptions,
    sampler: ProcessSampler,
    *,
    progress: Progress,
    rooms_occupied: RoomsOccupied | None = None,
) -> dict[str, Any]:
    """Every step of `ramp` in turn (bounded by `opts.max_seconds`); `n_max` is the
    largest step that passed."""
    steps: list[dict[str, Any]] = []
    t0 = time.monotonic()
    stopped = None
    generators = Generators(opts.per_process, max(ramp))
    try:
        await generators.start()
        for n in ramp:
            if time.monotonic() - t0 > opts.max_seconds:
                stopped = f"time limit {opts.max_seconds:g} s reached before step {n}"
                break
            progress(f"load: step {n} session(s) x {opts.turns} turns ...")
            step = await run_step(
                target, n, opts, sampler, generators, rooms_occupied=rooms_occupied
            )
            steps.append(step)
            progress("load: " + step_line(step))
    finally:
        generators.close()
    passed = [s["sessions"] for s in steps if s["pass"]]
    return {
        "kind": "load",
        "n_max": max(passed) if passed else 0,
        "thresholds": vars(opts.thresholds),
        "turns_per_session": opts.turns,
        "stagger_s": opts.stagger_s,
        "press_spread_s": press_spread(opts),
        "sessions_per_generator_process": opts.per_process,
        "stopped": stopped,
        "steps": steps,
    }


def step_line(step: dict[str, Any]) -> str:
    rt, ra = step["release_to_transcript_ms"], step["release_to_audio_ms"]
    verdict = "PASS" if step["pass"] else "FAIL (" + "; ".join(step["failed_because"]) + ")"
    return (
        f"N={step['sessions']} turns {step['turns_ok']}/{step['turns']} "
        f"no-agent {step['no_agent']} rel->text p95 {rt['p95']} ms rel->audio p95 {ra['p95']} ms "
        f"{verdict}"
    )
