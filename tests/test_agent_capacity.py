"""Capacity settings, the worker's load as LiveKit reads it, and the embedded server's
target load that agrees with it (no LiveKit server needed)."""

from __future__ import annotations

import pytest

from agent import config, worker
from stack import livekit

pytestmark = pytest.mark.unit


class _Server:
    def __init__(self, jobs: int) -> None:
        self.active_jobs = [object()] * jobs


def test_max_sessions_defaults_to_a_share_of_the_machine_and_reads_the_env() -> None:
    assert config.default_max_sessions(2) == 2 * config.SESSIONS_PER_CPU
    assert config.load({}).max_sessions == config.default_max_sessions()
    assert config.load({"PTT_AGENT_MAX_SESSIONS": "3"}).max_sessions == 3


@pytest.mark.parametrize("value", ["0", "-2", "many"])
def test_a_max_sessions_the_worker_cannot_use_is_refused_with_the_variable(value: str) -> None:
    with pytest.raises(config.ConfigError, match="PTT_AGENT_MAX_SESSIONS"):
        config.load({"PTT_AGENT_MAX_SESSIONS": value})


def test_executor_is_thread_by_default_and_checked() -> None:
    assert config.load({}).executor == "thread"
    assert config.load({"PTT_AGENT_EXECUTOR": "process"}).executor == "process"
    with pytest.raises(config.ConfigError, match="PTT_AGENT_EXECUTOR"):
        config.load({"PTT_AGENT_EXECUTOR": "fork"})


def test_load_reaches_the_server_target_exactly_when_every_slot_is_taken() -> None:
    loads = [worker.job_load(_Server(n), max_sessions=4) for n in range(6)]  # type: ignore[arg-type]
    assert loads == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    # livekit-server bids while load < target_load: 4 of 4 fit, a fifth does not
    target = livekit.AGENT_TARGET_LOAD
    assert [load < target for load in loads] == [True, True, True, True, False, False]


def test_the_embedded_server_runs_with_that_target_load(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PTT_CACHE_DIR", str(tmp_path))
    binary = livekit.binary_path()
    binary.parent.mkdir(parents=True)
    binary.touch()
    argv = livekit.command(port=7880)
    body = argv[argv.index("--config-body") + 1]
    assert f"agents:\n  target_load: {livekit.AGENT_TARGET_LOAD}\n" in body


def test_the_worker_takes_its_capacity_and_executor_from_the_config() -> None:
    from livekit.agents import JobExecutorType

    cfg = config.load({"PTT_AGENT_MAX_SESSIONS": "1", "PTT_AGENT_EXECUTOR": "thread"})
    server = worker.create_server(cfg)
    assert server._job_executor_type is JobExecutorType.THREAD
    assert server._num_idle_processes == 1  # never more warm executors than slots
    assert server._load_fnc(_Server(1)) == 1.0  # type: ignore[misc, arg-type]


def test_the_muted_input_pause_is_on_by_default_and_can_be_turned_off() -> None:
    assert config.load({}).pause_muted_input
    assert not config.load({"PTT_PAUSE_MUTED_INPUT": "0"}).pause_muted_input
    with pytest.raises(config.ConfigError, match="PTT_PAUSE_MUTED_INPUT"):
        config.load({"PTT_PAUSE_MUTED_INPUT": "off"})
