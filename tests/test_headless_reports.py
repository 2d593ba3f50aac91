"""Headless client: JUnit XML, the run and load reports, the tables and the plot."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from headless import load, plot, report, tables
from headless.room import RpcOutcome
from headless.runner import ScenarioResult, StepResult
from headless.stats import compare
from headless.turns import TurnResult

pytestmark = pytest.mark.unit


def turn(said: str, heard: str, *, to_text: float, to_audio: float | None) -> TurnResult:
    t = TurnResult("u", "say", said, said, pressed_at=100.0)
    t.start = RpcOutcome("start_turn", 100.0, 100.02)
    t.end = RpcOutcome("end_turn", 102.0, 102.03)
    t.transcript, t.committed_at = heard, 102.0 + to_text / 1000
    t.audio_at = None if to_audio is None else 102.0 + to_audio / 1000
    t.correctness = compare(said, heard)
    if not t.correctness.exact:
        t.fail(f"heard {heard!r}, said {said!r}")
    return t


def scenario_result(name: str, failures: list[str]) -> ScenarioResult:
    r = ScenarioResult(name, f"headless/scenarios/{name}.toml", "hl-room")
    step = StepResult(1, "user: say 'open the door'", "say", seconds=2.5, failures=failures)
    step.turn = turn("open the door", "open the door", to_text=40, to_audio=400)
    r.steps.append(step)
    r.seconds = 3.0
    return r


def test_junit_has_a_testcase_per_scenario_and_a_failure_for_the_red_one() -> None:
    results = [scenario_result("ok", []), scenario_result("bad", ["heard 'x', said 'y'"])]
    root = ET.fromstring(report.junit_xml(results))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["ok", "bad"]
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert failure is not None
    assert "step 1" in (failure.get("message") or "")
    assert "heard 'x'" in (failure.text or "")


def test_run_report_is_json_with_totals_and_each_turns_timings() -> None:
    data = report.run_report([scenario_result("ok", [])], target="console http://x")
    data = json.loads(json.dumps(data))
    assert (data["scenarios"], data["passed"], data["failed"]) == (1, 1, 0)
    t = data["results"][0]["steps"][0]["turn"]
    assert t["release_to_transcript_ms"] == 40.0
    assert t["release_to_audio_ms"] == 400.0
    assert t["start_turn"]["rtt_ms"] == 20.0
    assert t["correctness"]["word_errors"] == 0


def outcome(room: str, turns: list[TurnResult], got_agent: bool = True) -> load.SessionOutcome:
    return load.SessionOutcome(room, got_agent=got_agent, agent_wait_ms=500.0, turns=turns)


def test_a_load_step_passes_only_on_every_threshold() -> None:
    opts = load.LoadOptions(turns=2)
    good = [
        outcome("a", [turn("x y", "x y", to_text=50, to_audio=400)] * 2),
        outcome("b", [turn("x y", "x y", to_text=90, to_audio=450)] * 2),
    ]
    step = load.step_summary(2, good, opts, seconds=10, settle_s=1.0, resources={})
    assert step["pass"] and step["turns_ok"] == 4 and step["no_agent"] == 0
    assert step["release_to_transcript_ms"]["max"] == 90.0
    for key in ("p50", "p95", "p99", "max"):
        assert key in step["release_to_audio_ms"]

    slow = [
        outcome("a", [turn("x y", "x y", to_text=400, to_audio=900)] * 2),
        outcome("b", [], False),
    ]
    step = load.step_summary(2, slow, opts, seconds=10, settle_s=None, resources={})
    assert not step["pass"]
    assert any("got no agent" in why for why in step["failed_because"])
    assert any("2 of 4 turns wrong" in why for why in step["failed_because"])  # b's lost turns
    assert any("p95 release->transcript 400.0 ms > 300" in w for w in step["failed_because"])


def test_a_load_turn_whose_press_was_refused_is_wrong() -> None:
    """The talker stops at a refused start_turn without judging the turn (no failure of
    its own): the load counts it wrong, with the refusal as the reason."""
    refused = TurnResult("u", "say", "x y", None, pressed_at=100.0)
    refused.start = RpcOutcome("start_turn", 100.0, 100.5, 4503, "agent session is not running")
    step = load.step_summary(
        1,
        [outcome("a", [refused, turn("x y", "x y", to_text=50, to_audio=400)])],
        load.LoadOptions(turns=2),
        seconds=10,
        settle_s=1.0,
        resources={},
    )
    assert step["turns_ok"] == 1 and step["rpc_errors"] == 1 and not step["pass"]
    assert step["wrong"] == [
        {
            "said": "x y",
            "heard": None,
            "failures": ["start_turn refused: 4503 agent session is not running"],
        }
    ]


def test_load_table_json_and_plot(tmp_path: Path) -> None:
    opts = load.LoadOptions(turns=1)
    steps = [
        load.step_summary(
            n,
            [outcome("r", [turn("a", "a", to_text=30 * n, to_audio=300)])] * n,
            opts,
            seconds=5,
            settle_s=2.0,
            resources={"agent": {"cpu_pct": 10, "pss_peak_mb": 300}},
        )
        for n in (1, 2, 12)
    ]
    result = {"n_max": 2, "thresholds": vars(opts.thresholds), "steps": steps}
    text = tables.load_table(result)
    assert text.count("\n| ") == 3  # a row per step under the header and its rule
    assert "n_max = 2" in text and "N=12: p95 release->transcript" in text
    png = tmp_path / "load.png"
    plot.plot_load(result, png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
