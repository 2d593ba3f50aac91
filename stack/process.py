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


class ChildFailed(RuntimeError):
    """A child exited or never became healthy."""


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
    ) -> None:
        self.name = name
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

    def wait_ready(self, probe: Callable[[], bool] | None, timeout: float) -> float:
        """Block until `probe()` (or the ready line) says ready; returns seconds waited."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
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
        self, timeout: float = 10.0, *, kill: bool = False, force_after: float | None = None
    ) -> None:
        """SIGTERM the group, then SIGKILL what is left after `timeout`. With `kill`, SIGKILL
        at once (a crash, for chaos tests). With `force_after`, a second SIGTERM after that
        many seconds: livekit-server drains on the first signal, waiting up to our
        `timeout` for participants to leave, and stops at once on the second."""
        if self._proc is None:
            return
        pgid = self._proc.pid
        if self._proc.poll() is None and not kill:
            # the leader only: it stops its own children in order (the agent worker
            # drains its jobs); the group is killed below only if something is left
            self._proc.send_signal(signal.SIGTERM)
            if force_after is not None and not _exited(self._proc, force_after):
                self._proc.send_signal(signal.SIGTERM)
            _exited(self._proc, timeout)
        # children of the child (job processes) share its group: make sure none survive
        _signal_group(pgid, signal.SIGKILL)
        self._proc.wait()
        if self._pump:
            self._pump.join(timeout=2)


def _exited(proc: subprocess.Popen[str], timeout: float) -> bool:
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return False
    return True


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass
