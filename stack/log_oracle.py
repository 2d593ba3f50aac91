"""The log oracle: agent log records that mean a bug."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

FORBIDDEN = (
    "Task exception was never retrieved",
    "Task was destroyed but it is pending",
    "CancelledError",
)
# The Rust SDK logs this at ERROR when a data channel's buffer event finds the engine's
# internal channel already closed: a room torn down under a leaving job (seen after a
# room deletion and after a job left its room). Nothing of the agent's is lost.
BENIGN = ("failed to send dc_event buffer_amount_change: SendError",)
# ...and this when the server closes its data channels (a room deleted, a server gone):
# expected only by the tests that do that, each naming it
DATA_CHANNEL_CLOSED = r"livekit::rtc_engine.*data channel '\w+' closed unexpectedly"


# The FFI library's own records (agent/native_logs.py): env_logger's plain lines on the
# component's stderr, "[2026-12-02T16:21:39Z ERROR livekit::rtc_engine] ..."
NATIVE_RECORD = re.compile(r"^\[\S+ (ERROR|WARN|INFO|DEBUG|TRACE) +\S+\] ")


@dataclass
class LogCursor:
    """Reads a log file from where the last read stopped."""

    path: Path
    offset: int = 0

    def skip_to_end(self) -> None:
        self.offset = self.path.stat().st_size if self.path.exists() else 0

    def read_new(self) -> list[str]:
        if not self.path.exists():
            return []
        with open(self.path, encoding="utf-8", errors="replace") as f:
            f.seek(self.offset)
            data = f.read()
            self.offset = f.tell()
        return data.splitlines()


def bad_records(lines: list[str]) -> list[str]:
    """ERROR/CRITICAL records (Python's JSON lines and the FFI library's own) and any line
    naming a leaked task or stray cancellation."""
    bad = []
    for line in lines:
        level = ""
        if line.startswith("{"):
            try:
                level = str(json.loads(line).get("level", ""))
            except json.JSONDecodeError:
                pass
        elif native := NATIVE_RECORD.match(line):
            level = native.group(1)
        if any(p in line for p in BENIGN):
            continue
        if level in ("ERROR", "CRITICAL") or any(p in line for p in FORBIDDEN):
            bad.append(line)
    return bad
