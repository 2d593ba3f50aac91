"""`python -m agent [start|dev ...]`: run the PTT agent worker (default: `start`)."""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping

from livekit.agents import cli

from . import config
from .worker import create_server

# livekit-agents' event-loop monitor ticks every fifth of its warn threshold (20 ms at its
# default 100 ms, at most 50 ms), on every job's loop and in a watchdog thread per loop:
# ~2,400 wake-ups a second with 24 sessions in the worker. At 250 ms it ticks every 50 ms;
# the idle agent fell from 2.1-2.5 to 1.6-1.9 % of a core per session (docs/capacity.md,
# session 15). Blocks under 250 ms then go unreported; set the variable to see them.
LOOP_BLOCK_WARN = ("LIVEKIT_AGENTS_LOOP_BLOCK_WARN_MS", "250")


def runtime_defaults(env: MutableMapping[str, str]) -> None:
    """The worker's defaults for the framework's own settings; a value set is kept."""
    env.setdefault(*LOOP_BLOCK_WARN)


def main() -> None:
    runtime_defaults(os.environ)
    try:
        cfg = config.load()
    except config.ConfigError as e:
        sys.exit(f"agent: {e}")
    if len(sys.argv) == 1:
        sys.argv.append("start")
    cli.run_app(create_server(cfg))


if __name__ == "__main__":
    main()
