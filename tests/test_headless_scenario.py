"""Headless client: scenario files are checked whole, with errors that say where."""

from __future__ import annotations

from pathlib import Path

import pytest

from headless import scenario
from headless.scenario import ScenarioError

pytestmark = pytest.mark.unit

SHIPPED = sorted((Path(__file__).resolve().parent.parent / "headless" / "scenarios").glob("*.toml"))


def parse(text: str) -> scenario.Scenario:
    import tomllib

    return scenario.parse(tomllib.loads(text), source="t.toml")


def test_every_shipped_scenario_loads() -> None:
    assert len(SHIPPED) >= 6
    for path in SHIPPED:
        s = scenario.load(path)
        assert s.steps and s.name and s.description


def test_a_step_gets_defaults_and_its_expected_transcript() -> None:
    s = parse('name = "x"\n[[step]]\nsay = "open the door"\n[[step]]\nsilence = 1\n')
    say, silence = s.steps
    assert (say.actor, say.lead_ms, say.tail_ms) == ("user", 200.0, 300.0)
    assert say.expected_transcript() == "open the door"
    assert silence.expected_transcript() == ""
    assert s.participants == ("user",)


def test_error_names_become_codes_and_an_expected_error_judges_no_transcript() -> None:
    s = parse('name = "x"\n[[step]]\nsay = "hello agent"\nexpect_error = "turn_busy"\n')
    assert s.steps[0].expect_error == 4409
    assert s.steps[0].expected_transcript() is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "x"\n', "no steps"),
        ('name = "x"\nfoo = 1\n[[step]]\nwait = 1\n', "unknown key 'foo'"),
        ('name = "x"\n[[step]]\nsya = "hello"\n', "step 1: needs exactly one action"),
        ('name = "x"\n[[step]]\nsay = "a"\nwait = 1\n', "found say, wait"),
        ('name = "x"\n[[step]]\nwait = 1\n[[step]]\nsay = 3\n', "step 2: 'say' must be a string"),
        ('name = "x"\n[[step]]\npause = false\n', "'pause' must be true"),
        ('name = "x"\n[[step]]\nsay = "a"\nexpect_error = "NOPE"\n', "unknown error name 'NOPE'"),
        ('name = "x"\n[[step]]\nsay = "a"\nas = "bob"\n', "'as' names 'bob'"),
        ('name = "x"\n[[step]]\nrelease = true\n', "releases without a press"),
        ('name = "x"\n[[step]]\npress = "a"\n', "presses and never releases"),
        ('name = "x"\n[[step]]\nrapid = 0\n', "'rapid' must be 1..500"),
        ('name = "x"\n[[step]]\ncancel = "a"\ncancel_after = 1.5\n', "between 0 and 1"),
        ('name = "x"\n[[step]]\nsay = " "\n', "needs a phrase"),
        ('name = "x"\n[[step]]\nwait = true\n', "'wait' must be an integer or a number"),
        ('name = "x"\nparticipants = ["a", "a"]\n[[step]]\nwait = 1\n', "twice"),
        ('name = "x"\n[[step]]\nsay = "a"\nlead_ms = -1\n', "'lead_ms' must not be negative"),
    ],
)
def test_a_bad_scenario_is_refused_with_where_and_why(text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match="^t.toml") as e:
        parse(text)
    assert message in str(e.value)


def test_a_file_that_is_not_toml_names_itself(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(ScenarioError, match=r"bad\.toml: not valid TOML"):
        scenario.load(bad)
    with pytest.raises(ScenarioError, match="cannot read"):
        scenario.load(tmp_path / "missing.toml")
