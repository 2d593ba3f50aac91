"""The worker's process set-up (no LiveKit server): what every job would otherwise pay
on its own event loop is paid while the process waits for a job."""

from __future__ import annotations

import pytest
from livekit.agents.utils import http_context

from agent import worker

pytestmark = pytest.mark.unit


def test_prewarm_builds_the_shared_tls_context_before_any_job() -> None:
    http_context._ssl_context_for.cache_clear()
    worker.prewarm(None)  # type: ignore[arg-type]
    # the job's first HTTP session (the Deepgram plugin's) finds it built
    assert http_context._ssl_context_for.cache_info().currsize == 1
    ctx = http_context._create_ssl_context()
    assert http_context._ssl_context_for.cache_info().hits >= 1
    assert ctx is http_context._create_ssl_context()


def test_the_worker_prewarms_its_job_processes() -> None:
    from agent import config

    server = worker.create_server(config.load({}))
    assert server.setup_fnc is worker.prewarm
