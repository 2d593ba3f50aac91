"""Headless load: how a step's sessions are planned (joins, the quiet window, first presses)."""

from __future__ import annotations

import pytest

from headless import load

pytestmark = pytest.mark.unit


def plan(**kw: float) -> tuple[list[load.SessionPlan], float, float]:
    return load.plan_step(12, load.LoadOptions(**kw), 1000.0)  # type: ignore[arg-type]


def test_first_presses_spread_like_the_joins_by_default() -> None:
    plans, quiet_from, talk_at = plan(stagger_s=3.0, idle_s=8.0)
    presses = [p.talk_at for p in plans]
    assert talk_at == quiet_from + 8.0
    assert all(talk_at <= t <= talk_at + 3.0 for t in presses)
    assert len(set(presses)) == len(presses)  # no two sessions press together
    assert max(presses) - min(presses) > 1.0


def test_a_press_spread_of_zero_presses_everyone_at_the_window_end() -> None:
    plans, _, talk_at = plan(stagger_s=3.0, idle_s=8.0, press_spread_s=0.0)
    assert {p.talk_at for p in plans} == {talk_at}


def test_an_explicit_press_spread_bounds_the_first_presses() -> None:
    plans, _, talk_at = plan(stagger_s=0.5, idle_s=8.0, press_spread_s=6.0)
    presses = [p.talk_at for p in plans]
    assert all(talk_at <= t <= talk_at + 6.0 for t in presses)
    assert max(presses) - min(presses) > 0.5  # wider than the joins


def test_without_a_quiet_window_sessions_talk_once_their_agent_is_there() -> None:
    plans, _, talk_at = plan(idle_s=0.0)
    assert talk_at == 0.0
    assert {p.talk_at for p in plans} == {0.0}


def test_joins_keep_their_spread_and_the_window_starts_after_the_last() -> None:
    plans, quiet_from, _ = plan(stagger_s=3.0, idle_s=8.0, idle_lead_s=6.0)
    starts = [p.start_at for p in plans]
    assert all(1000.0 <= s <= 1003.0 for s in starts)
    assert quiet_from == max(starts) + 6.0
    assert len({p.room for p in plans}) == 12
