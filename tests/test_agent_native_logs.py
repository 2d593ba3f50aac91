"""agent.native_logs: the FFI library's log records stop reaching Python (one event a
record) and go to the process's stderr instead, filtered natively. The real library, in
a fresh process: a room connecting to a closed port makes it log."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.unit

SCRIPT = textwrap.dedent(
    """
    import asyncio, logging, sys
    from livekit import rtc

    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.levelname)

    logging.getLogger("livekit").addHandler(Keep())
    logging.getLogger("livekit").setLevel(logging.DEBUG)
    if sys.argv[1] == "native":
        from agent.native_logs import keep_native_logs_native
        assert keep_native_logs_native() and keep_native_logs_native()  # idempotent
    if sys.argv[1] == "opt-out":
        from agent.native_logs import keep_native_logs_native
        assert keep_native_logs_native() is False  # PTT_NATIVE_LOGS=python

    async def main():
        room = rtc.Room()
        try:
            await asyncio.wait_for(room.connect("ws://127.0.0.1:9", "a.b.c"), 10)
        except rtc.ConnectError:
            pass
        await asyncio.sleep(1.2)  # the library's log batches are flushed every second

    asyncio.run(main())
    print(",".join(records))
    """
)


def _run(mode: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, mode],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ".", **env},
    )


def test_native_log_records_go_to_stderr_instead_of_python_logging() -> None:
    captured = _run("captured")
    assert captured.returncode == 0, captured.stderr
    levels = captured.stdout.strip().split(",")
    assert "WARNING" in levels  # the SDK's default: records reach Python, warnings too
    assert "ERROR" not in captured.stderr

    native = _run("native")
    assert native.returncode == 0, native.stderr
    assert native.stdout.strip() == ""  # no record reached Python's logging
    # the connect failure is still told, by the library itself (RUST_LOG unset: errors)
    assert "ERROR livekit_ffi" in native.stderr
    assert "error while connecting to a room" in native.stderr


def test_ptt_native_logs_python_keeps_the_sdks_default() -> None:
    kept = _run("opt-out", PTT_NATIVE_LOGS="python")
    assert kept.returncode == 0, kept.stderr
    assert "WARNING" in kept.stdout.strip().split(",")  # records still reach Python
    assert "ERROR livekit_ffi" not in kept.stderr
