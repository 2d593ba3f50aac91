"""A fresh local stack for a headless run (the supervisor of `make run`, on free ports)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from stack.supervisor import Stack, StackConfig, cluster_size


def start_stack(
    log_dir: Path,
    *,
    upstream_agent: bool = False,
    quiet: bool = True,
    extra_env: dict[str, str] | None = None,
) -> Stack:
    """Start LiveKit, the STT service, the agent worker(s) and the web server on free
    ports, logging to `log_dir` (emptied first), with `extra_env` for every part. The
    caller stops it. `PTT_LIVEKIT_NODES`/`PTT_AGENT_WORKERS` make it a cluster, as for
    `make run` (docs/scaling.md)."""
    shutil.rmtree(log_dir, ignore_errors=True)
    nodes, workers = cluster_size(dict(os.environ))
    config = StackConfig.ephemeral(log_dir, nodes=nodes, workers=workers)
    config.upstream_agent = upstream_agent and nodes == 1
    config.extra_env.update(extra_env or {})
    stack = Stack(config, echo=None if quiet else sys.stderr)
    stack.start()
    return stack
