"""`python -m agent [start|dev ...]`: run the PTT agent worker (default: `start`)."""

from __future__ import annotations

import sys

from livekit.agents import cli

from . import config
from .worker import create_server


def main() -> None:
    try:
        cfg = config.load()
    except config.ConfigError as e:
        sys.exit(f"agent: {e}")
    if len(sys.argv) == 1:
        sys.argv.append("start")
    cli.run_app(create_server(cfg))


if __name__ == "__main__":
    main()
