"""The embedded livekit-server's log level: info unless PTT_LIVEKIT_LOG_LEVEL says
otherwise (dev mode alone logs every signal message at debug)."""

from __future__ import annotations

import asyncio
import subprocess
import threading

import pytest
from livekit import api

from stack import cluster, livekit
from stack.supervisor import StackConfig, free_port

pytestmark = pytest.mark.unit

READY = "starting LiveKit server"
LISTED = "RoomService.ListRooms"  # the server's INFO line for that API call


async def list_rooms(port: int) -> None:
    async with api.LiveKitAPI(f"http://127.0.0.1:{port}", "devkey", "secret") as lk:
        await lk.room.list_rooms(api.ListRoomsRequest())


def server_lines(level: str) -> list[str]:
    """The real dev server's output from its start to the line for one API call, made
    once it is ready (everything it logs meanwhile is in between)."""
    if not livekit.binary_path().exists():
        pytest.fail(f"{livekit.binary_path()} is missing: run `make setup`")
    port = free_port(span=3)
    proc = subprocess.Popen(
        livekit.command(port=port, level=level),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    seen = {READY: threading.Event(), LISTED: threading.Event()}

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            for marker, event in seen.items():
                if marker in line:
                    event.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert seen[READY].wait(30), "".join(lines[-20:])
        asyncio.run(list_rooms(port))
        assert seen[LISTED].wait(10), "".join(lines[-20:])
    finally:
        proc.kill()  # a test's own server: nothing to drain
        proc.wait(10)
        reader.join(5)
    return lines


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # dev keys
def test_the_dev_server_logs_at_info_by_default_and_at_debug_when_asked() -> None:
    level = StackConfig.from_env({}).livekit_log_level
    assert level == "info"
    quiet = server_lines(level)
    assert not [line for line in quiet if "\tDEBUG\t" in line]
    loud = server_lines(StackConfig.from_env({"PTT_LIVEKIT_LOG_LEVEL": "debug"}).livekit_log_level)
    assert [line for line in loud if "\tDEBUG\t" in line]  # e.g. "starting relay signal server"


def test_a_cluster_node_gets_the_same_level() -> None:
    keys = cluster.Keys("key", "s" * 40)
    body = cluster.node_config(port=7890, redis_port=6380, keys=keys, level="warn")
    assert "logging:\n  level: warn\n" in body


@pytest.mark.parametrize("value", ["verbose", "trace", "0"])
def test_an_unknown_level_is_refused_with_the_choices(value: str) -> None:
    with pytest.raises(SystemExit, match="PTT_LIVEKIT_LOG_LEVEL.*debug, info, warn, error"):
        StackConfig.from_env({"PTT_LIVEKIT_LOG_LEVEL": value})
