"""The supervisor (`python -m stack`, what `make run` runs) always stops, and leaves nothing.

Each test runs the real supervisor with its real children on free ports. Every process of
a run carries a tag in its environment, so whatever survives is found by scanning /proc,
job processes and the lifeline's reaper included."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from stack.ports import holders
from stack.supervisor import DRAIN_S, free_port

pytestmark = [pytest.mark.unit, pytest.mark.stack]

ROOT = Path(__file__).resolve().parent.parent
READY = "PTT console ready"
EXIT_SLACK_S = 5.0  # interpreter exit and the last pump threads, on a busy machine
START_LIMIT_S = 120.0


def _tagged(tag: str) -> list[str]:
    """`pid cmdline` of every live process whose environment holds `tag`."""
    found = []
    needle = f"PTT_STACK_TEST_TAG={tag}".encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            if needle not in Path(f"/proc/{pid}/environ").read_bytes():
                continue
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:  # gone, or a zombie
            continue
        found.append(f"{pid} {cmd.decode(errors='replace')[:100]}")
    return found


def _gone(tag: str, within: float = 3.0) -> list[str]:
    """What is still running after waiting up to `within` seconds for every tagged
    process to end (killed processes take a moment to be reaped by init)."""
    procs = []
    for entry in _tagged(tag):
        try:
            procs.append(psutil.Process(int(entry.split()[0])))
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=within)
    return _tagged(tag)


class Run:
    """One `python -m stack` on free ports, its output collected by a thread."""

    def __init__(self, **env: str) -> None:
        self.tag = uuid.uuid4().hex
        self.env = dict(
            os.environ,
            PTT_PORT=str(free_port()),
            PTT_LIVEKIT_PORT=str(free_port(span=3)),
            STT_PORT=str(free_port()),
            PTT_AGENT_MAX_SESSIONS="1",  # one warm job process: a quicker start
            STT_WORKERS="1",  # one decoder process
            PTT_STACK_TEST_TAG=self.tag,
        )
        self.env.update(env)
        self.env.pop("LIVEKIT_URL", None)
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "stack"],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if READY in line:
                self.ready.set()

    def output(self) -> str:
        return "".join(self.lines[-60:])

    def wait_exit(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def cleanup(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for entry in _tagged(self.tag):
            try:
                os.kill(int(entry.split()[0]), signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def runs() -> Iterator[list[Run]]:
    started: list[Run] = []
    yield started
    for run in started:
        run.cleanup()


def _cycle(rng: random.Random, kind: str, runs: list[Run]) -> str:
    """Start a stack, signal it as `kind` says, and check it exits 0 within the drain
    limit leaving no process. Returns a description for the failure message."""
    run = Run()
    runs.append(run)
    sig = rng.choice([signal.SIGINT, signal.SIGTERM])
    if kind == "twice":  # half of them during start-up
        kind = rng.choice(["starting", "ready"])
        twice = True
    else:
        twice = False
    if kind == "starting":  # somewhere between exec and ready (about 7 s here)
        delay = rng.uniform(0.0, 6.0)
        time.sleep(delay)
        what = f"{sig.name} {delay:.2f}s after exec"
    else:
        assert run.ready.wait(START_LIMIT_S), f"never ready:\n{run.output()}"
        what = f"{sig.name} while ready"
    run.proc.send_signal(sig)
    if twice:
        gap = rng.uniform(0.0, 0.5)
        time.sleep(gap)
        second = rng.choice([signal.SIGINT, signal.SIGTERM])
        if run.proc.poll() is None:
            run.proc.send_signal(second)
        what += f", then {second.name} {gap:.2f}s later"
    rc = run.wait_exit(DRAIN_S + EXIT_SLACK_S)
    assert rc is not None, f"{what}: still running after {DRAIN_S + EXIT_SLACK_S}s:\n" + (
        run.output()
    )
    # a signal in the first milliseconds, before the interpreter has installed any
    # handler, ends the process by its default action; one during the interpreter's own
    # start-up (site, before `-m stack` runs) ends it with its KeyboardInterrupt
    # traceback and exit 1 (measured: SIGINT 6-31 ms after exec). Nothing can have
    # started yet, which the check below confirms
    interrupted = rc == 1 and sig == signal.SIGINT and "KeyboardInterrupt" in run.output()
    early = kind == "starting" and (rc == -sig or interrupted) and READY not in run.output()
    assert rc == 0 or early, f"{what}: exit {rc}:\n{run.output()}"
    left = _gone(run.tag)
    assert not left, f"{what}: left running: {left}\n{run.output()}"
    return what


KINDS = ["starting", "ready", "twice"]


@pytest.mark.slow
@pytest.mark.parametrize("batch", range(3))
def test_thirty_signalled_stops_exit_in_time_and_leave_nothing(batch: int, runs: list[Run]) -> None:
    """30 start/stop cycles in three batches of ten (so the unit phase can spread them):
    SIGINT or SIGTERM during start-up at a random moment, while ready, and twice in a row."""
    seed = int(os.environ.get("PTT_STOP_SEED", time.time_ns())) + batch
    rng = random.Random(seed)
    for i in range(10):
        kind = KINDS[(i + batch) % 3]
        try:
            _cycle(rng, kind, runs)
        except AssertionError as e:
            raise AssertionError(f"cycle {i} ({kind}, PTT_STOP_SEED={seed - batch}): {e}") from e


@pytest.mark.slow
def test_a_killed_supervisor_takes_its_children_with_it(runs: list[Run]) -> None:
    run = Run()
    runs.append(run)
    assert run.ready.wait(START_LIMIT_S), f"never ready:\n{run.output()}"
    children = _tagged(run.tag)
    assert any("livekit-server" in c for c in children), children
    assert any("-m agent" in c for c in children), children
    run.proc.kill()  # SIGKILL: no handler, no finally, no stop()
    run.proc.wait()
    left = _gone(run.tag, within=5.0)
    assert not left, f"survived the supervisor's SIGKILL: {left}"


def test_a_taken_port_is_named_with_its_holder_and_nothing_starts(runs: list[Run]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = Run(STT_PORT=str(port))
        runs.append(run)
        rc = run.wait_exit(30)
        out = run.output()
    assert rc == 1, out
    assert f"tcp port {port} for the STT service (STT_PORT)" in out, out
    assert f"pid {os.getpid()} " in out, out  # this test process holds it
    assert READY not in out
    assert not _gone(run.tag)


def test_holders_finds_the_listening_process_and_only_it() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        assert holders(port, "tcp") == []  # bound, not listening: not a server
        s.listen()
        (found,) = holders(port, "tcp")
        assert found.startswith(f"pid {os.getpid()} (")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind(("127.0.0.1", 0))
        (found,) = holders(u.getsockname()[1], "udp")
        assert found.startswith(f"pid {os.getpid()} (")
