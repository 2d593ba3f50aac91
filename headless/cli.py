"""`python -m headless run|load|soak`: the target (a fresh local stack by default), the
mode, and the reports it writes."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from livekit import api

from stack.log_oracle import LogCursor, bad_records
from stack.supervisor import Stack

from . import load as load_mode
from . import plot, report, scenario, tables
from .local import start_stack
from .resources import ProcessSampler
from .runner import Oracle, ScenarioResult, run_scenario
from .soak import run_soak
from .target import ConsoleTarget, LiveKitTarget, Target, TargetError, is_loopback

RESULTS = Path("bench-results")
STACK_ROLES = ("livekit", "stt", "agent", "web", "upstream", "redis")


def progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _ramp(text: str) -> list[int]:
    try:
        steps = [int(x) for x in text.split(",") if x.strip()]
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not a list of session counts: {text!r}") from e
    if not steps or any(not 1 <= n <= load_mode.MAX_SESSIONS for n in steps):
        raise argparse.ArgumentTypeError(f"each step must be 1..{load_mode.MAX_SESSIONS}")
    return steps


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m headless", description=__doc__)
    sub = p.add_subparsers(dest="mode", required=True)
    run = sub.add_parser("run", help="play scenario files; JSON report and JUnit XML")
    run.add_argument("files", nargs="+", type=Path)
    run.add_argument("--json", type=Path, default=Path("test-results/headless.json"))
    run.add_argument("--junit", type=Path, default=Path("test-results/headless-junit.xml"))
    ld = sub.add_parser("load", help="concurrent sessions, or a ramp of them")
    ld.add_argument("--sessions", type=int, help="one step of N sessions")
    ld.add_argument("--ramp", type=_ramp, help="steps, e.g. 1,2,4,8 (default: the full ramp)")
    ld.add_argument("--turns", type=int, default=3, help="turns per session (default 3)")
    ld.add_argument("--stagger", type=float, default=3.0, help="join spread, s (default 3)")
    ld.add_argument(
        "--press-spread",
        type=float,
        help="first presses after the quiet window spread over this, s "
        "(default: the join spread; 0: everyone presses at once)",
    )
    ld.add_argument("--p95-limit", type=float, default=300.0, help="ms, release->transcript")
    ld.add_argument("--expect-n-max", type=int, help="exit 1 when n_max is below this")
    ld.add_argument("--max-seconds", type=float, default=1800.0)
    ld.add_argument("--per-process", type=int, default=4, help="sessions per generator process")
    ld.add_argument(
        "--idle-s", type=float, default=8.0, help="quiet window before talking, s (0: none)"
    )
    ld.add_argument("--json", type=Path, default=RESULTS / "load.json")
    ld.add_argument("--plot", type=Path, default=RESULTS / "load.png")
    sk = sub.add_parser("soak", help="random PTT operations, then the log oracle")
    sk.add_argument("--cycles", type=int, default=1000)
    sk.add_argument("--max-minutes", type=float, default=90.0)
    sk.add_argument("--seed", type=int, default=1)
    sk.add_argument("--json", type=Path, default=RESULTS / "soak.json")
    sk.add_argument("--plot", type=Path, default=RESULTS / "soak.png")
    for mode in (run, ld, sk):
        t = mode.add_argument_group("target (default: a fresh local stack on free ports)")
        t.add_argument("--base-url", help="a running console: joins through its /api/token")
        t.add_argument("--access-key", default=os.environ.get("PTT_ACCESS_KEY"))
        t.add_argument("--livekit-url", help="a LiveKit deployment, joined directly")
        t.add_argument("--api-key", default=os.environ.get("LIVEKIT_API_KEY"))
        t.add_argument("--api-secret", default=os.environ.get("LIVEKIT_API_SECRET"))
        t.add_argument("--agent", default="", help="agent name to dispatch")
        t.add_argument("--stack-logs", type=Path, help="local stack: where its logs go")
    return p


@dataclass
class Setup:
    target: Target
    stack: Stack | None


@contextlib.contextmanager
def target_for(args: argparse.Namespace, *, upstream: bool = False) -> Iterator[Setup]:
    """The target the arguments name; a local stack is started here and stopped after."""
    if args.base_url and args.livekit_url:
        raise SystemExit("give --base-url or --livekit-url, not both")
    if args.base_url:
        yield Setup(
            ConsoleTarget(args.base_url, access_key=args.access_key, agent=args.agent), None
        )
        return
    if args.livekit_url:
        if not (args.api_key and args.api_secret):
            raise SystemExit("--livekit-url needs --api-key and --api-secret (or LIVEKIT_API_*)")
        if not args.agent:
            raise SystemExit("--livekit-url needs --agent (the agent name to dispatch)")
        yield Setup(
            LiveKitTarget(
                args.livekit_url, api_key=args.api_key, api_secret=args.api_secret, agent=args.agent
            ),
            None,
        )
        return
    logs = args.stack_logs or RESULTS / f"stack-logs-{args.mode}"
    progress(f"{args.mode}: starting a local stack (logs in {logs}/) ...")
    stack = start_stack(logs, upstream_agent=upstream)
    progress(f"{args.mode}: local stack ready at {stack.config.web_url}")
    try:
        yield Setup(ConsoleTarget(stack.config.web_url, agent=args.agent), stack)
    finally:
        progress(f"{args.mode}: stopping the local stack")
        stack.stop()


def _oracle(stack: Stack | None) -> Oracle | None:
    """New bad records of the local stack's agent logs since the last call (None against
    a deployment: the agent's forwarded ptt.log records still count)."""
    if stack is None or stack.config.log_dir is None:
        return None
    cursors = [LogCursor(stack.config.log_dir / f"{n}.log") for n in ("agent", "upstream")]

    def new_bad() -> list[str]:
        return [line for c in cursors for line in bad_records(c.read_new())]

    return new_bad


def _roles(stack: Stack | None) -> dict[str, int | list[int]]:
    """Role -> the root pids of its processes (a cluster's livekit, livekit-2, ... are
    one role, as are agent, agent-2, ...)."""
    if stack is None:
        return {}
    roles: dict[str, int | list[int]] = {}
    for name, child in stack.children.items():
        role = name.split("-")[0]
        if role in STACK_ROLES and child.pid:
            pids = roles.setdefault(role, [])
            assert isinstance(pids, list)
            pids.append(child.pid)
    return roles


def cmd_run(args: argparse.Namespace) -> int:
    try:
        scenarios = [scenario.load(f) for f in args.files]
    except scenario.ScenarioError as e:
        print(f"headless run: {e}", file=sys.stderr)
        return 2
    upstream = any(s.agent and "upstream" in s.agent for s in scenarios)
    with target_for(args, upstream=upstream) as setup:
        oracle = _oracle(setup.stack)

        async def main() -> list[ScenarioResult]:
            results = []
            try:
                for s in scenarios:
                    progress(f"[{s.name}] {len(s.steps)} steps, {', '.join(s.participants)}")
                    results.append(
                        await run_scenario(setup.target, s, progress=progress, oracle=oracle)
                    )
            finally:
                await setup.target.aclose()
            return results

        results = asyncio.run(main())
    report.write_json(args.json, report.run_report(results, target=setup.target.description))
    args.junit.parent.mkdir(parents=True, exist_ok=True)
    args.junit.write_text(report.junit_xml(results), encoding="utf-8")
    print("\n".join(report.summary_lines(results)))
    print(f"reports: {args.json} {args.junit}")
    return 0 if all(r.ok for r in results) else 1


def cmd_load(args: argparse.Namespace) -> int:
    if args.sessions is not None and args.ramp is not None:
        raise SystemExit("give --sessions or --ramp, not both")
    if args.sessions is not None and not 1 <= args.sessions <= load_mode.MAX_SESSIONS:
        raise SystemExit(f"--sessions must be 1..{load_mode.MAX_SESSIONS}")
    if not 1 <= args.turns <= 50:
        raise SystemExit("--turns must be 1..50")
    if args.press_spread is not None and args.press_spread < 0:
        raise SystemExit("--press-spread must be 0 or more")
    ramp = [args.sessions] if args.sessions else (args.ramp or list(load_mode.DEFAULT_RAMP))
    url = args.base_url or args.livekit_url
    if url and not is_loopback(url):
        progress(f"load: sending up to {max(ramp)} sessions to {url}, as asked")
    opts = load_mode.LoadOptions(
        turns=args.turns,
        stagger_s=args.stagger,
        press_spread_s=args.press_spread,
        thresholds=load_mode.Thresholds(p95_release_to_transcript_ms=args.p95_limit),
        max_seconds=args.max_seconds,
        per_process=args.per_process,
        idle_s=args.idle_s,
    )
    with target_for(args) as setup:
        sampler = ProcessSampler.for_generator(_roles(setup.stack))
        result = asyncio.run(_load(setup, ramp, opts, sampler))
        sampler.close()
    result["target"] = setup.target.description
    report.write_json(args.json, result)
    plot.plot_load(result, args.plot)
    print(tables.load_table(result))
    print(tables.cpu_table(result))
    print(f"reports: {args.json} {args.plot}")
    if args.expect_n_max is not None and result["n_max"] < args.expect_n_max:
        return 1
    return 0


async def _load(setup: Setup, ramp: list[int], opts, sampler) -> dict:  # type: ignore[no-untyped-def, type-arg]
    lkapi = None
    rooms_occupied = None
    if setup.stack is not None:
        c = setup.stack.config
        lkapi = api.LiveKitAPI(f"http://127.0.0.1:{c.livekit_port}", c.api_key, c.api_secret)

        async def rooms_occupied(rooms: list[str]) -> int:
            # a room LiveKit keeps for its departure timeout (20 s) after the agent left
            # is empty: the job's slot is free. (The room listing's num_participants does
            # not count agents, so each room's participants are asked for.)
            listing = await lkapi.room.list_rooms(api.ListRoomsRequest(names=rooms))
            occupied = 0
            for room in listing.rooms:
                people = await lkapi.room.list_participants(
                    api.ListParticipantsRequest(room=room.name)
                )
                occupied += bool(people.participants)
            return occupied

    try:
        return await load_mode.run_ramp(
            setup.target, ramp, opts, sampler, progress=progress, rooms_occupied=rooms_occupied
        )
    finally:
        await setup.target.aclose()
        if lkapi is not None:
            await lkapi.aclose()


def cmd_soak(args: argparse.Namespace) -> int:
    if not 1 <= args.cycles <= 100_000:
        raise SystemExit("--cycles must be 1..100000")
    with target_for(args) as setup:
        oracle = _oracle(setup.stack)
        agent = setup.stack.children.get("agent") if setup.stack else None

        async def main() -> dict:  # type: ignore[type-arg]
            try:
                return await run_soak(
                    setup.target,
                    args.cycles,
                    progress=progress,
                    max_seconds=args.max_minutes * 60,
                    seed=args.seed,
                    agent_pid=agent.pid if agent else None,
                    oracle=oracle,
                    evidence=RESULTS / "soak-evidence",
                )
            finally:
                await setup.target.aclose()

        result = asyncio.run(main())
    result["target"] = setup.target.description
    report.write_json(args.json, result)
    plot.plot_soak(result, args.plot)
    print(tables.soak_table(result))
    print(f"reports: {args.json} {args.plot}")
    return 0 if result["pass"] else 1


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # the local dev server's well-known key is short on purpose; a deployment's is not
    warnings.filterwarnings("ignore", message="The HMAC key is .* below the minimum")
    try:
        return {"run": cmd_run, "load": cmd_load, "soak": cmd_soak}[args.mode](args)
    except TargetError as e:
        print(f"headless {args.mode}: {e}", file=sys.stderr)
        return 2
