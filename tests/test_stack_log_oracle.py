"""stack.log_oracle: which agent log lines mean a bug, in both formats an agent's log has
(Python's JSON records and the FFI library's own env_logger lines)."""

from __future__ import annotations

import json
import re

import pytest

from stack.log_oracle import DATA_CHANNEL_CLOSED, bad_records

pytestmark = pytest.mark.unit


def _json(level: str, message: str) -> str:
    return json.dumps({"level": level, "message": message})


def test_errors_of_either_format_are_bad_and_the_rest_is_not() -> None:
    native_error = "[2026-12-02T16:23:18Z ERROR livekit_signaling] failed to send queued signal"
    native_warn = "[2026-12-02T16:23:18Z WARN  livekit::room] slow event"
    lines = [
        _json("INFO", "turn committed"),
        _json("ERROR", "RPC handler failed"),
        native_warn,
        native_error,
        "ERROR somewhere in the middle of a plain line",
        _json("INFO", "Task exception was never retrieved"),
        _json("ERROR", "failed to send dc_event buffer_amount_change: SendError"),
    ]
    assert bad_records(lines) == [
        _json("ERROR", "RPC handler failed"),
        native_error,
        _json("INFO", "Task exception was never retrieved"),
    ]


def test_the_data_channel_pattern_names_the_native_line() -> None:
    line = (
        "[2026-12-02T16:21:39Z ERROR livekit::rtc_engine::rtc_session] publisher data "
        "channel '_reliable' closed unexpectedly"
    )
    assert bad_records([line]) == [line]
    assert re.search(DATA_CHANNEL_CLOSED, line)
