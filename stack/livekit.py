"""The pinned livekit-server: where its build lives and how it is started."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

LIVEKIT_VERSION = "1.13.5"
ROOT = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """PTT_CACHE_DIR, or the project's git-ignored `.cache/`."""
    return Path(os.environ.get("PTT_CACHE_DIR") or ROOT / ".cache")


def binary_path(version: str = LIVEKIT_VERSION) -> Path:
    return cache_dir() / "livekit-server" / f"v{version}" / "livekit-server"


# livekit-server bids a job to a worker only while the worker's reported load is under
# `agents.target_load` (0.7 by default, a strict "<"). Our worker reports jobs/capacity,
# so 1.0 lets it fill every slot it offers; a worker on livekit-agents' default CPU load
# then gets its job on a busy developer machine unless the CPU is fully saturated.
AGENT_TARGET_LOAD = 1.0


LOG_LEVELS = ("debug", "info", "warn", "error")


def log_level(env: Mapping[str, str]) -> str:
    """PTT_LIVEKIT_LOG_LEVEL, `info` by default. Dev mode alone logs at debug: every
    signal message with its payload (measured: 56,000 lines, 90 MB, in one 4-minute load
    ramp), written and JSON-encoded by the server on the cores the sessions need."""
    level = env.get("PTT_LIVEKIT_LOG_LEVEL", "").strip().lower() or "info"
    if level not in LOG_LEVELS:
        raise SystemExit(f"PTT_LIVEKIT_LOG_LEVEL={level!r}: use one of {', '.join(LOG_LEVELS)}")
    return level


def command(*, port: int, host: str = "127.0.0.1", level: str = "info") -> list[str]:
    """A dev-mode server on `host`: signalling on `port`, RTC TCP on +1, UDP on +2;
    logging at `level`."""
    binary = binary_path()
    if not binary.exists():
        raise FileNotFoundError(f"{binary} is missing: run `make setup` to build livekit-server")
    config_body = (
        f"port: {port}\nrtc:\n  tcp_port: {port + 1}\n  udp_port: {port + 2}\n"
        f"agents:\n  target_load: {AGENT_TARGET_LOAD}\nlogging:\n  level: {level}\n"
    )
    return [
        str(binary),
        "--dev",
        "--bind",
        host,
        "--node-ip",
        host,
        "--config-body",
        config_body,
    ]
