"""The headless client (`python -m headless run`) against the same stack or deployment:
two shipped scenarios green and a wrong expectation red, in JUnit and JSON."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from e2e.conftest import Target

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "headless" / "scenarios"


def run_headless(target: Target, out: Path, *files: Path) -> tuple[int, ET.Element, dict]:
    argv = [sys.executable, "-m", "headless", "run", *map(str, files), "--base-url", target.url]
    argv += ["--json", str(out / "report.json"), "--junit", str(out / "junit.xml")]
    if target.access_key:
        argv += ["--access-key", target.access_key]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert (out / "junit.xml").exists(), proc.stderr[-2000:]
    junit = ET.parse(out / "junit.xml").getroot()
    report = json.loads((out / "report.json").read_text())
    return proc.returncode, junit, report


def test_headless_run_reports_shipped_scenarios_green_and_a_wrong_expectation_red(
    target: Target, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(
        'name = "deliberately wrong"\n[[step]]\nsay = "open the door"\n'
        'expect_transcript = "close the door"\n'
    )
    files = (SCENARIOS / "cancel_leak.toml", SCENARIOS / "second_participant.toml", wrong)
    rc, junit, report = run_headless(target, tmp_path, *files)
    assert rc == 1  # one scenario failed
    cases = {c.get("name"): c for c in junit.findall("./testsuite/testcase")}
    assert list(cases) == ["cancel leak", "second participant refused", "deliberately wrong"]
    green = report["results"][:2]
    assert [r["failures"] for r in green] == [[], []]
    assert cases["cancel leak"].find("failure") is None
    assert cases["second participant refused"].find("failure") is None
    failure = cases["deliberately wrong"].find("failure")
    assert failure is not None
    assert "heard 'open the door', said 'close the door'" in (failure.get("message") or "")
    assert (report["passed"], report["failed"]) == (2, 1)

    # a press and its release report the same turn: count it at the release
    turns = [s["turn"] for r in green for s in r["steps"] if s["turn"] and s["action"] != "press"]
    judged = [t for t in turns if t["expected"] is not None and t["end_turn"]]
    assert len(judged) == 3  # close the door; alice's open the door; bob's second try
    for t in judged:
        assert t["transcript"] == t["expected"]
        assert t["correctness"]["first_word"] and t["correctness"]["last_word"]
        assert t["release_to_transcript_ms"] is not None
        assert t["release_to_audio_ms"] is not None  # heard, on the client's own clock
        assert t["start_turn"]["code"] == 0 and t["end_turn"]["code"] == 0
    bob_refused = green[1]["steps"][1]["turn"]
    assert bob_refused["start_turn"]["code"] == 4409
