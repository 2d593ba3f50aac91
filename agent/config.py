"""Agent configuration from the environment, with defaults for the local stack."""

from __future__ import annotations

import os
from dataclasses import dataclass

from .stt_reset import STRATEGIES, ResetStrategy

EXECUTORS = ("thread", "process")
SESSIONS_PER_CPU = 12  # measured: see docs/capacity.md


def default_max_sessions(cpus: int | None = None) -> int:
    """Sessions one worker takes by default: SESSIONS_PER_CPU per CPU of this machine."""
    return SESSIONS_PER_CPU * max(1, cpus if cpus is not None else (os.cpu_count() or 1))


class ConfigError(ValueError):
    """A setting has a value the agent cannot use."""


@dataclass(frozen=True)
class AgentConfig:
    agent_name: str
    identity: str
    stt_url: str | None
    deepgram_api_key: str
    reset_strategy: ResetStrategy
    preroll: float
    http_host: str
    http_port: int
    max_sessions: int
    executor: str
    turn_audio_keep: int = 8
    pause_muted_input: bool = True  # input_pause.py; PTT_PAUSE_MUTED_INPUT=0 turns it off

    @property
    def uses_cloud(self) -> bool:
        return self.stt_url is None


def load(env: dict[str, str] | None = None) -> AgentConfig:
    """Read PTT_* and DEEPGRAM_* variables; see the README's configuration table."""
    env = dict(os.environ if env is None else env)
    strategy = env.get("PTT_STT_RESET", "prewarm")
    if strategy not in STRATEGIES:
        raise ConfigError(f"PTT_STT_RESET={strategy!r}: use one of {', '.join(STRATEGIES)}")
    key = env.get("DEEPGRAM_API_KEY", "")
    stt_url = env.get("PTT_STT_URL") or None
    if stt_url is None and not key:
        stt_url = "ws://127.0.0.1:8790/v1/listen"
    try:
        preroll = int(env.get("PTT_PREROLL_MS", "500")) / 1000
        port = int(env.get("PTT_AGENT_HTTP_PORT", "0"))
        max_sessions = int(env.get("PTT_AGENT_MAX_SESSIONS") or default_max_sessions())
        keep = int(env.get("PTT_TURN_AUDIO_KEEP", "8"))
    except ValueError as e:
        raise ConfigError(
            "PTT_PREROLL_MS, PTT_AGENT_HTTP_PORT, PTT_AGENT_MAX_SESSIONS and "
            f"PTT_TURN_AUDIO_KEEP must be integers: {e}"
        ) from e
    if keep < 1:
        raise ConfigError(f"PTT_TURN_AUDIO_KEEP={keep}: use 1 or more")
    if max_sessions < 1:
        raise ConfigError(f"PTT_AGENT_MAX_SESSIONS={max_sessions}: use 1 or more")
    executor = env.get("PTT_AGENT_EXECUTOR", "thread")
    if executor not in EXECUTORS:
        raise ConfigError(f"PTT_AGENT_EXECUTOR={executor!r}: use one of {', '.join(EXECUTORS)}")
    pause = env.get("PTT_PAUSE_MUTED_INPUT", "1")
    if pause not in ("0", "1"):
        raise ConfigError(f"PTT_PAUSE_MUTED_INPUT={pause!r}: use 1 (the default) or 0")
    return AgentConfig(
        agent_name=env.get("PTT_AGENT_NAME", "ptt-agent"),
        identity=env.get("PTT_AGENT_IDENTITY", "ptt-agent"),
        stt_url=stt_url,
        deepgram_api_key=key or "offline",
        reset_strategy=strategy,  # type: ignore[arg-type]
        preroll=preroll,
        http_host=env.get("PTT_AGENT_HTTP_HOST", "127.0.0.1"),
        http_port=port,
        max_sessions=max_sessions,
        executor=executor,
        turn_audio_keep=keep,
        pause_muted_input=pause == "1",
    )
