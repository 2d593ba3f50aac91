"""agent.__main__.runtime_defaults: the framework's loop monitor ticks every 50 ms in the
worker unless the user set its threshold (read back through livekit-agents itself)."""

from __future__ import annotations

import os

import pytest
from livekit.agents.telemetry import loop_monitor

from agent.__main__ import LOOP_BLOCK_WARN, runtime_defaults

pytestmark = pytest.mark.unit
NAME = LOOP_BLOCK_WARN[0]


def _tick() -> float | None:
    thresholds = loop_monitor.LoopMonitorThresholds.from_env()
    return None if thresholds is None else loop_monitor._tick_interval_for(thresholds.warn)


def test_unset_the_monitor_warns_at_250_ms_and_ticks_every_50(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(NAME, raising=False)
    assert _tick() == pytest.approx(0.02)  # the framework's own default
    runtime_defaults(os.environ)
    assert os.environ[NAME] == "250"
    assert _tick() == pytest.approx(0.05)


@pytest.mark.parametrize("value", ["100", "0"])
def test_a_value_the_user_set_is_kept(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(NAME, value)
    runtime_defaults(os.environ)
    assert os.environ[NAME] == value
