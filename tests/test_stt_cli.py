"""STT service: the ``python -m stt_service`` entry point."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent


def test_stt_cli_serves_and_stops_cleanly() -> None:
    env = dict(os.environ, STT_WORKERS="1", STT_IDLE_TIMEOUT="3")
    proc = subprocess.Popen(
        [sys.executable, "-m", "stt_service", "--host", "127.0.0.1", "--port", "0"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # blocks until the one INFO line (or exit)
        match = re.search(
            r"INFO stt_service: STT service listening .*url='ws://127\.0\.0\.1:(\d+)", line
        )
        assert match, line
        health = httpx.get(f"http://127.0.0.1:{match.group(1)}/healthz", timeout=10)
        assert health.json() == {"status": "ok"}
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "STT service stopped" in rest
    assert "ERROR" not in rest and "Traceback" not in rest


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grammar", "/nonexistent.jsgf"], "does not exist"),
        (["--vocabulary", "free", "--grammar", __file__], "drop --vocabulary free"),
        (["--idle-timeout", "0"], "idle timeout"),
    ],
)
def test_stt_cli_refuses_bad_configuration(args: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stt_service", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert message in result.stderr
