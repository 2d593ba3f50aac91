"""Scenario files (TOML): what users do in a room, step by step, and what they expect.

One schema for every mode; `docs/headless.md` documents it. A file is checked whole
before anything runs: a mistake is a ScenarioError naming the file, the step and the key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# the agent's documented RpcError codes (README: The agent's contract), by name
ERROR_CODES = {
    "INVALID_PAYLOAD": 4400,
    "NOT_TURN_OWNER": 4403,
    "NO_OPEN_TURN": 4404,
    "TURN_BUSY": 4409,
    "PAUSED": 4423,
    "INTERNAL": 4500,
    "NOT_READY": 4503,
}
# action -> the type its value must have
ACTIONS: dict[str, type | tuple[type, ...]] = {
    "say": str,  # press, speak the phrase, release
    "cancel": str,  # press, speak part of the phrase, cancel the turn
    "press": str,  # press and hold, speaking the phrase ("" for silence)
    "release": bool,  # release the held turn
    "silence": (int, float),  # press, hold this many seconds in silence, release
    "rapid": int,  # this many press/release pairs in a burst, then check the agent answers
    "pause": bool,
    "resume": bool,
    "rebuild": bool,  # the console's rebuild: a fresh agent instance, empty context
    "wait": (int, float),  # seconds
}
OPTIONS: dict[str, type | tuple[type, ...]] = {
    "as": str,  # which participant acts (default: the first)
    "lead_ms": (int, float),  # press -> first word (0: the word starts with the press)
    "tail_ms": (int, float),  # last word -> release
    "cancel_after": (int, float),  # cancel: the fraction of the phrase spoken first
    "interval_ms": (int, float),  # rapid: time between presses
    "expect_transcript": str,  # the committed transcript ("" = an empty turn)
    "expect_reply": str,  # text the agent's reply contains (case-insensitive)
    "expect_error": (int, str),  # the step's RPC is refused with this code (or its name)
}
TOP_LEVEL = {"name", "description", "participants", "agent", "timeout_s", "step"}
MAX_RAPID = 500
MAX_WAIT_S = 120.0


class ScenarioError(ValueError):
    """A scenario file that cannot be run, with where and why."""


@dataclass(frozen=True)
class Step:
    """One thing a participant does, with what the scenario expects of it."""

    action: str
    value: Any
    actor: str
    lead_ms: float = 200.0
    tail_ms: float = 300.0
    cancel_after: float = 0.5
    interval_ms: float = 20.0
    expect_transcript: str | None = None
    expect_reply: str | None = None
    expect_error: int | None = None

    def describe(self) -> str:
        value = "" if isinstance(self.value, bool) else f" {self.value!r}"
        return f"{self.actor}: {self.action}{value}"

    def expected_transcript(self) -> str | None:
        """What the committed transcript must be, or None when nothing is checked."""
        if self.expect_error is not None:
            return None
        if self.expect_transcript is not None:
            return self.expect_transcript
        if self.action in ("say", "press"):
            return str(self.value)
        if self.action == "silence":
            return ""
        return None


@dataclass(frozen=True)
class Scenario:
    name: str
    steps: tuple[Step, ...]
    participants: tuple[str, ...] = ("user",)
    description: str = ""
    agent: str | None = None  # agent name to dispatch, default the target's
    timeout_s: float = 120.0
    path: Path | None = field(default=None, compare=False)


def load(path: str | Path) -> Scenario:
    """Read and check one scenario file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ScenarioError(f"{path}: cannot read: {e.strerror}") from e
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{path}: not valid TOML: {e}") from e
    return parse(data, source=str(path), path=path)


def parse(
    data: dict[str, Any], *, source: str = "<scenario>", path: Path | None = None
) -> Scenario:
    """Check a decoded scenario document and build the Scenario."""
    unknown = sorted(set(data) - TOP_LEVEL)
    if unknown:
        raise ScenarioError(f"{source}: unknown key {unknown[0]!r} (known: {_list(TOP_LEVEL)})")
    name = data.get("name", path.stem if path else "")
    if not isinstance(name, str) or not name.strip():
        raise ScenarioError(f"{source}: 'name' must be a non-empty string")
    participants = data.get("participants", ["user"])
    if (
        not isinstance(participants, list)
        or not participants
        or not all(isinstance(p, str) and p.strip() for p in participants)
    ):
        raise ScenarioError(f"{source}: 'participants' must be a list of identities")
    if len(set(participants)) != len(participants):
        raise ScenarioError(f"{source}: 'participants' lists an identity twice")
    timeout = data.get("timeout_s", 120.0)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
        raise ScenarioError(f"{source}: 'timeout_s' must be a positive number")
    agent = data.get("agent")
    if agent is not None and (not isinstance(agent, str) or not agent.strip()):
        raise ScenarioError(f"{source}: 'agent' must be a non-empty string")
    raw_steps = data.get("step")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ScenarioError(f"{source}: no steps (add [[step]] tables)")
    steps = tuple(
        _step(raw, f"{source}: step {i}", participants) for i, raw in enumerate(raw_steps, 1)
    )
    _check_holds(steps, source)
    return Scenario(
        name=name.strip(),
        steps=steps,
        participants=tuple(participants),
        description=str(data.get("description", "")),
        agent=agent,
        timeout_s=float(timeout),
        path=path,
    )


def _step(raw: Any, where: str, participants: list[str]) -> Step:
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: must be a table")
    actions = [k for k in raw if k in ACTIONS]
    if len(actions) != 1:
        found = f"found {_list(actions)}" if actions else "found none"
        raise ScenarioError(f"{where}: needs exactly one action of {_list(ACTIONS)} ({found})")
    action = actions[0]
    for key, value in raw.items():
        want = ACTIONS.get(key) or OPTIONS.get(key)
        if want is None:
            known = _list([*ACTIONS, *OPTIONS])
            raise ScenarioError(f"{where}: unknown key {key!r} (known: {known})")
        if isinstance(value, bool) and want is not bool or not isinstance(value, want):
            raise ScenarioError(f"{where}: {key!r} must be {_type_name(want)}, not {value!r}")
    value = raw[action]
    if ACTIONS[action] is bool and value is not True:
        raise ScenarioError(f"{where}: {action!r} must be true")
    if action == "rapid" and not 1 <= value <= MAX_RAPID:
        raise ScenarioError(f"{where}: 'rapid' must be 1..{MAX_RAPID}")
    if action in ("wait", "silence") and not 0 <= value <= MAX_WAIT_S:
        raise ScenarioError(f"{where}: {action!r} must be 0..{MAX_WAIT_S:g} seconds")
    if action in ("say", "cancel") and not value.strip():
        raise ScenarioError(f"{where}: {action!r} needs a phrase")
    actor = raw.get("as", participants[0])
    if actor not in participants:
        raise ScenarioError(f"{where}: 'as' names {actor!r}, not one of {_list(participants)}")
    cancel_after = float(raw.get("cancel_after", 0.5))
    if not 0 < cancel_after < 1:
        raise ScenarioError(f"{where}: 'cancel_after' must be between 0 and 1")
    for key in ("lead_ms", "tail_ms", "interval_ms"):
        if raw.get(key, 0) < 0:
            raise ScenarioError(f"{where}: {key!r} must not be negative")
    return Step(
        action=action,
        value=value,
        actor=actor,
        lead_ms=float(raw.get("lead_ms", 200.0)),
        tail_ms=float(raw.get("tail_ms", 300.0)),
        cancel_after=cancel_after,
        interval_ms=float(raw.get("interval_ms", 20.0)),
        expect_transcript=raw.get("expect_transcript"),
        expect_reply=raw.get("expect_reply"),
        expect_error=_error_code(raw.get("expect_error"), where),
    )


def _check_holds(steps: tuple[Step, ...], source: str) -> None:
    """Every `release` follows a `press` of the same participant, and no turn is left held."""
    held: dict[str, int] = {}
    for i, step in enumerate(steps, 1):
        if step.action == "press" and step.expect_error is None:
            if step.actor in held:
                raise ScenarioError(
                    f"{source}: step {i}: {step.actor} already holds the turn pressed at step "
                    f"{held[step.actor]}"
                )
            held[step.actor] = i
        elif step.action == "release" and held.pop(step.actor, None) is None:
            raise ScenarioError(f"{source}: step {i}: {step.actor} releases without a press")
    if held:
        actor, i = next(iter(held.items()))
        raise ScenarioError(f"{source}: step {i}: {actor} presses and never releases")


def _error_code(value: int | str | None, where: str) -> int | None:
    if value is None or isinstance(value, int):
        return value
    code = ERROR_CODES.get(value.upper())
    if code is None:
        raise ScenarioError(f"{where}: unknown error name {value!r} (known: {_list(ERROR_CODES)})")
    return code


def _list(items: Any) -> str:
    return ", ".join(sorted(items) if isinstance(items, set) else items)


def _type_name(t: type | tuple[type, ...]) -> str:
    names = {bool: "true", str: "a string", int: "an integer", float: "a number"}
    types = t if isinstance(t, tuple) else (t,)
    return " or ".join(dict.fromkeys(names[x] for x in types))
