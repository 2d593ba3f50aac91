"""Plays a scenario: its participants join one room, each step runs and is judged."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .room import RoomClient, RpcOutcome
from .scenario import Scenario, Step
from .target import Target, TargetError
from .turns import Talker, TurnResult

AGENT_TIMEOUT = 20.0  # join -> an agent listening in the room
REBUILD_TIMEOUT = 30.0
ATTR_WAIT = 3.0
Progress = Callable[[str], None]
Oracle = Callable[[], list[str]]  # new bad agent log records since the last call


@dataclass
class StepResult:
    index: int
    step: str
    action: str
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    turn: TurnResult | None = None
    rpcs: list[RpcOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "step": self.step,
            "action": self.action,
            "ok": self.ok,
            "seconds": round(self.seconds, 2),
            "failures": list(self.failures),
            "turn": self.turn.to_dict() if self.turn else None,
            "rpcs": [{"method": r.method, "code": r.code, "rtt_ms": r.rtt_ms} for r in self.rpcs],
        }


@dataclass
class ScenarioResult:
    name: str
    source: str
    room: str
    steps: list[StepResult] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # not tied to one step
    seconds: float = 0.0
    agent_log_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and all(s.ok for s in self.steps)

    def all_failures(self) -> list[str]:
        steps = [f"step {s.index} ({s.step}): {f}" for s in self.steps for f in s.failures]
        return [*self.failures, *steps]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "room": self.room,
            "ok": self.ok,
            "seconds": round(self.seconds, 2),
            "failures": self.all_failures(),
            "agent_log_errors": list(self.agent_log_errors),
            "steps": [s.to_dict() for s in self.steps],
        }


def room_name(prefix: str, name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "scenario"
    return f"{prefix}-{slug}-{secrets.token_hex(3)}"


async def run_scenario(
    target: Target, scenario: Scenario, *, progress: Progress, oracle: Oracle | None = None
) -> ScenarioResult:
    """Join every participant into a fresh room, play the steps in order, judge each."""
    result = ScenarioResult(
        scenario.name, str(scenario.path or "<scenario>"), room_name("hl", scenario.name)
    )
    started = time.monotonic()
    clients: dict[str, RoomClient] = {}
    try:
        async with asyncio.timeout(scenario.timeout_s):
            await _play(target, scenario, result, clients, progress)
    except TimeoutError:
        result.failures.append(f"scenario timed out after {scenario.timeout_s:g} s")
    except TargetError as e:
        result.failures.append(str(e))
    finally:
        errors = forwarded_errors(clients.values())
        for client in clients.values():
            await client.aclose()
        if oracle is not None:
            errors.extend(oracle())
        result.agent_log_errors = errors
        if errors:
            result.failures.append(f"the agent logged {len(errors)} error record(s): {errors[0]}")
        result.seconds = time.monotonic() - started
    return result


async def _play(
    target: Target,
    scenario: Scenario,
    result: ScenarioResult,
    clients: dict[str, RoomClient],
    progress: Progress,
) -> None:
    for identity in scenario.participants:
        grant = await target.grant(result.room, identity, scenario.agent)
        clients[identity] = client = RoomClient(grant)
        await client.connect()
    first = clients[scenario.participants[0]]
    if not await first.wait_agent_ready(AGENT_TIMEOUT):
        who = "no agent" if first.agent() is None else "the agent never became ready"
        result.failures.append(
            f"{who} in room {result.room} within {AGENT_TIMEOUT:g} s "
            f"(agent name {first.grant.agent!r}, {target.description})"
        )
        return
    for other in clients.values():
        await other.wait_agent_ready(AGENT_TIMEOUT)
    held: dict[str, TurnResult] = {}
    talkers = {identity: Talker(c) for identity, c in clients.items()}
    n = len(scenario.steps)
    for i, step in enumerate(scenario.steps, 1):
        sr = StepResult(i, step.describe(), step.action)
        t0 = time.monotonic()
        await _run_step(step, sr, talkers[step.actor], held, target, result.room, scenario)
        sr.seconds = time.monotonic() - t0
        result.steps.append(sr)
        verdict = "ok" if sr.ok else "FAILED: " + "; ".join(sr.failures)
        progress(f"[{scenario.name}] step {i}/{n} {sr.step} ... {verdict} ({sr.seconds:.1f} s)")


async def _run_step(
    step: Step,
    sr: StepResult,
    talker: Talker,
    held: dict[str, TurnResult],
    target: Target,
    room: str,
    scenario: Scenario,
) -> None:
    client = talker.client
    if step.action in ("say", "press", "silence"):
        phrase = "" if step.action == "silence" else str(step.value)
        tail = float(step.value) * 1000 if step.action == "silence" else step.tail_ms
        lead = 0.0 if step.action == "silence" else step.lead_ms
        turn = await talker.press(phrase, lead_ms=lead, tail_ms=tail, action=step.action)
        holds = step.action == "press" and step.expect_error is None
        if holds and turn.start is not None and turn.start.ok:
            held[step.actor] = turn
            turn.expected = step.expected_transcript()
        else:
            turn = await talker.release(turn, step.expected_transcript())
        _judge_turn(step, sr, turn)
    elif step.action == "release":
        held_turn = held.pop(step.actor, None)
        if held_turn is None:
            sr.failures.append("nothing to release: the press before it failed")
            return
        turn = held_turn
        expected = step.expect_transcript if step.expect_transcript is not None else turn.expected
        _judge_turn(step, sr, await talker.release(turn, expected))
    elif step.action == "cancel":
        turn = await talker.cancel(
            str(step.value), fraction=step.cancel_after, lead_ms=step.lead_ms
        )
        _judge_turn(step, sr, turn)
    elif step.action == "rapid":
        mark = len(client.got.metrics)
        sr.rpcs = await talker.rapid(int(step.value), interval_ms=step.interval_ms)
        refused = [r for r in sr.rpcs if not r.ok]
        if refused:
            r = refused[0]
            sr.failures.append(
                f"{len(refused)} RPCs refused, first {r.method}: {r.code} {r.response}"
            )
        elif talker._agent_has_metrics():  # the burst's turns are answered before the next
            count = int(step.value)
            done = await client.wait_for(lambda: _owned(client, mark) >= count, 3.0 + 0.1 * count)
            if not done:
                sr.failures.append(f"the agent answered {_owned(client, mark)} of {count} turns")
    elif step.action in ("pause", "resume"):
        outcome = await client.rpc(step.action)
        sr.rpcs = [outcome]
        if (
            _judge_code(step, sr, outcome)
            and outcome.ok
            and client.agent_attr("ptt.paused") is not None
        ):
            want = "1" if step.action == "pause" else "0"
            if not await client.wait_for(
                lambda: client.agent_attr("ptt.paused") == want, ATTR_WAIT
            ):
                sr.failures.append(f"ptt.paused did not become {want!r}")
    elif step.action == "rebuild":
        before = client.agent()
        old = before.sid if before else None
        await target.rebuild(room, scenario.agent)
        fresh = await client.wait_for(
            lambda: (a := client.agent()) is not None and a.sid != old, REBUILD_TIMEOUT
        )
        if not fresh or not await client.wait_agent_ready(AGENT_TIMEOUT):
            sr.failures.append(f"no new agent instance within {REBUILD_TIMEOUT:g} s of the rebuild")
    elif step.action == "wait":
        await asyncio.sleep(float(step.value))


def _owned(client: RoomClient, mark: int) -> int:
    """Metrics messages of this client's turns that ended (committed or cancelled)."""
    return sum(
        1
        for _, m in client.got.metrics[mark:]
        if m.get("owner") == client.identity
        and (m.get("release_to_final_ms") is not None or m.get("cancelled"))
        and m.get("release_to_first_audio_ms") is None
    )


def _judge_code(step: Step, sr: StepResult, outcome: RpcOutcome) -> bool:
    """The RPC's code against `expect_error`; False when it was refused unexpectedly."""
    if step.expect_error is not None:
        if outcome.code != step.expect_error:
            got = "success" if outcome.ok else f"{outcome.code} ({outcome.response})"
            sr.failures.append(f"{outcome.method}: expected error {step.expect_error}, got {got}")
        return False
    if not outcome.ok:
        sr.failures.append(f"{outcome.method} refused: {outcome.code} {outcome.response}")
        return False
    return True


def _judge_turn(step: Step, sr: StepResult, turn: TurnResult) -> None:
    sr.turn = turn
    refused = next((o for o in (turn.start, turn.end) if o is not None and not o.ok), None)
    if step.expect_error is not None:
        if refused is None:
            sr.failures.append(f"expected error {step.expect_error}, every RPC succeeded")
        elif refused.code != step.expect_error:
            sr.failures.append(
                f"{refused.method}: expected error {step.expect_error}, "
                f"got {refused.code} ({refused.response})"
            )
        return
    if refused is not None:
        sr.failures.append(f"{refused.method} refused: {refused.code} {refused.response}")
        return
    if step.action == "press":
        return  # judged at its release
    sr.failures.extend(turn.failures)
    if step.expect_reply is not None and step.expect_reply.lower() not in turn.reply.lower():
        sr.failures.append(f"reply {turn.reply!r} does not contain {step.expect_reply!r}")


def forwarded_errors(clients: Any) -> list[str]:
    """ERROR+ records the agent forwarded on ptt.log (works against any deployment)."""
    seen: set[str] = set()
    out = []
    for client in clients:
        for _, rec in client.got.logs:
            if str(rec.get("level", "")).upper() in ("ERROR", "CRITICAL"):
                line = f"{rec.get('logger', '')}: {rec.get('message', '')}"
                if line not in seen:
                    seen.add(line)
                    out.append(line)
    return out
