"""A fresh local stack for a headless run (the supervisor of `make run`, on free ports)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from stack.supervisor import Stack, StackConfig


def start_stack(
    log_dir: Path,
    *,
    upstream_agent: bool = False,
    quiet: bool = True,
    extra_env: dict[str, str] | None = None,
) -> Stack:
    """Start LiveKit, the STT service, the agent worker(s) and the web server on free
    ports, logging to `log_dir` (emptied first), with `extra_env` for every part. The
    caller stops it."""
    shutil.rmtree(log_dir, ignore_errors=True)
    config = StackConfig.ephemeral(log_dir)
    config.upstream_agent = upstream_agent
    config.extra_env.update(extra_env or {})
    stack = Stack(config, echo=None if quiet else sys.stderr)
    stack.start()
    return stack
