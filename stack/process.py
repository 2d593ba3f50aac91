"""One supervised child process: its output, its readiness, its shutdown."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO

from .lifeline import Lifeline


class ChildFailed(RuntimeError):
    """A child exited or never became healthy."""


class StopRequested(Exception):
    """A stop was asked for (a signal) while the stack was still starting."""


def never() -> bool:
    return False


def http_ok(url: str) -> Callable[[], bool]:
    """A readiness probe: GET `url` answers 2xx."""

    def probe() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                return 200 <= resp.status < 300
        except (urllib.error.URLError, OSError):
            return False

    return probe


class Child:
    """A process in its own session (so its whole group can be stopped)."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        env: dict[str, str],
        log_dir: Path | None = None,
        echo: IO[str] | None = sys.stdout,
        ready_line: str | None = None,
        lifeline: Lifeline | None = None,
    ) -> None:
        self.name = name
        self._lifeline = lifeline
        self.argv = argv
        self.env = env
        self.log_path = log_dir / f"{name}.log" if log_dir else None
        self._echo = echo
        self.ready_line = ready_line
        self._ready_re = re.compile(ready_line) if ready_line else None
        self._ready_seen = threading.Event()
        self._ready_lines = 0  # how often the ready line appeared (a worker re-registers)
        self._ready_cond = threading.Condition()
        self._tail: deque[str] = deque(maxlen=40)
        self._proc: subprocess.Popen[str] | None = None
        self._pump: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> None:
        self._proc = subprocess.Popen(
            self.argv,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
        )
        if self._lifeline:
            self._lifeline.watch(self._proc.pid)
        self._pump = threading.Thread(target=self._pump_output, name=f"pump-{self.name}")
        self._pump.daemon = True
        self._pump.start()

    def _pump_output(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        log = open(self.log_path, "a", encoding="utf-8") if self.log_path else None
        try:
            for line in self._proc.stdout:
                self._tail.append(line)
                if log:
                    log.write(line)
                    log.flush()
                if self._echo:
                    self._echo.write(f"[{self.name}] {line}")
                    self._echo.flush()
                if self._ready_re and self._ready_re.search(line):
                    self._ready_seen.set()
                    with self._ready_cond:
                        self._ready_lines += 1
                        self._ready_cond.notify_all()
        finally:
            if log:
                log.close()

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def wait_ready(
        self,
        probe: Callable[[], bool] | None,
        timeout: float,
        stop_requested: Callable[[], bool] = never,
    ) -> float:
        """Block until `probe()` (or the ready line) says ready; returns seconds waited.
        Raises StopRequested as soon as `stop_requested()` says so."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if stop_requested():
                raise StopRequested(f"stop requested while {self.name} was starting")
            if not self.running():
                raise ChildFailed(f"{self.name} exited early:\n{''.join(self._tail)}")
            if (probe is None or probe()) and (self._ready_re is None or self._ready_seen.is_set()):
                return time.monotonic() - t0
            time.sleep(0.1)
        raise ChildFailed(f"{self.name} not ready after {timeout:.0f}s:\n{''.join(self._tail)}")

    @property
    def ready_lines(self) -> int:
        with self._ready_cond:
            return self._ready_lines

    def wait_ready_line(self, after: int, timeout: float) -> None:
        """Block until the ready line has appeared more than `after` times."""
        with self._ready_cond:
            if not self._ready_cond.wait_for(lambda: self._ready_lines > after, timeout):
                raise ChildFailed(
                    f"{self.name}: no new {self.ready_line!r} line in {timeout:.0f}s:\n"
                    + "".join(self._tail)
                )

    def stop(
        self,
        timeout: float = 10.0,
        *,
        kill: bool = False,
        force_after: float | None = None,
        hurry: Callable[[], bool] = never,
    ) -> None:
        """SIGTERM the group, then SIGKILL what is left after `timeout`. With `kill`, SIGKILL
        at once (a crash, for chaos tests). With `force_after`, a second SIGTERM after that
        many seconds: livekit-server drains on the first signal, waiting up to our
        `timeout` for participants to leave, and stops at once on the second. Once
        `hurry()` says so (a second Ctrl-C), SIGKILL without waiting any longer."""
        if self._proc is None:
            return
        pgid = self._proc.pid
        if self._proc.poll() is None and not kill and not hurry():
            # the leader only: it stops its own children in order (the agent worker
            # drains its jobs); the group is killed below only if something is left
            self._proc.send_signal(signal.SIGTERM)
            if force_after is not None and not _exited(self._proc, force_after, hurry):
                self._proc.send_signal(signal.SIGTERM)
            _exited(self._proc, timeout, hurry)
        # children of the child (job processes) share its group: make sure none survive
        _signal_group(pgid, signal.SIGKILL)
        self._proc.wait()
        if self._lifeline:
            self._lifeline.release(pgid)
        if self._pump:
            self._pump.join(timeout=2)


def _exited(proc: subprocess.Popen[str], timeout: float, hurry: Callable[[], bool] = never) -> bool:
    """Wait up to `timeout` for `proc` to exit, giving up early once `hurry()` is true."""
    deadline = time.monotonic() + max(0.0, timeout)
    while True:
        try:
            proc.wait(min(0.1, max(0.0, deadline - time.monotonic())))
            return True
        except subprocess.TimeoutExpired:
            if hurry() or time.monotonic() >= deadline:
                return False


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass
