"""Headless client: the command line refuses bad input before it starts anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from headless.resources import ProcessSampler, pss_bytes

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent


def headless(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "headless", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_bad_scenario_exits_2_with_where_and_why_and_starts_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[[step]]\nsay = "open the door"\nexpect_error = "NOPE"\n')
    proc = headless("run", str(bad))
    assert proc.returncode == 2
    assert "bad.toml: step 1: unknown error name 'NOPE'" in proc.stderr
    assert "starting a local stack" not in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["load", "--ramp", "1,0"], "each step must be 1..64"),
        (["load", "--sessions", "100"], "--sessions must be 1..64"),
        (["load", "--sessions", "2", "--ramp", "1,2"], "not both"),
        (
            ["load", "--livekit-url", "ws://127.0.0.1:1", "--api-key", "k", "--api-secret", "s"],
            "--agent",
        ),
        (["soak", "--cycles", "0"], "--cycles must be"),
    ],
)
def test_load_and_soak_refuse_unbounded_or_incomplete_arguments(
    args: list[str], message: str
) -> None:
    proc = headless(*args)
    assert proc.returncode != 0
    assert message in proc.stderr


def test_pss_is_read_and_a_busy_childs_cpu_goes_to_its_own_role() -> None:
    assert (pss_bytes(os.getpid()) or 0) > 1_000_000
    assert pss_bytes(2**22 + 12345) is None
    # burns one CPU second, says so, then waits to be killed (still there to be sampled)
    burn = (
        "import sys, time\nt = time.process_time()\nwhile time.process_time() - t < 1: pass\n"
        "print('done', flush=True)\nsys.stdin.read()"
    )
    busy = subprocess.Popen(
        [sys.executable, "-c", burn], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        sampler = ProcessSampler.for_generator({"busy": busy.pid})
        sampler.begin()
        assert busy.stdout is not None
        assert busy.stdout.readline().strip() == "done"
        out = sampler.end()
        sampler.close()
    finally:
        busy.kill()
        busy.wait()
    assert out["busy"]["cpu_s"] > 0.5
    assert out["busy"]["pss_peak_mb"] > 1
    assert out["generator"]["cpu_s"] < out["busy"]["cpu_s"]  # a child's CPU is not ours
    assert "sampler" in out
