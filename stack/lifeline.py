"""Children die with the supervisor, however it dies.

The supervisor starts one small reaper process per stack and holds the write end of a pipe
to it. Each child's process group is announced on the pipe when it starts (`+PGID`) and
withdrawn when it is stopped in order (`-PGID`). When the pipe reaches end of file, that
is when the supervisor has exited by any means, SIGKILL included, the reaper SIGKILLs
every group still announced, so job processes of the agent worker go too.

A pipe rather than `PR_SET_PDEATHSIG`: the death signal follows the thread that forked the
child, not the process, and it reaches only the direct child, not its group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys


class Lifeline:
    """The supervisor's end: start the reaper, announce and withdraw process groups."""

    def __init__(self) -> None:
        read_fd, self._write_fd = os.pipe()  # neither end is inherited by other children
        self._reaper = subprocess.Popen(
            [sys.executable, "-m", "stack.lifeline", str(read_fd)],
            pass_fds=(read_fd,),
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # a terminal's Ctrl-C reaches the supervisor only
        )
        os.close(read_fd)

    def _send(self, line: str) -> None:
        if self._write_fd < 0:
            return
        try:
            os.write(self._write_fd, line.encode() + b"\n")
        except OSError:  # the reaper is gone: nothing left to tell
            pass

    def watch(self, pgid: int) -> None:
        self._send(f"+{pgid}")

    def release(self, pgid: int) -> None:
        self._send(f"-{pgid}")

    def close(self) -> None:
        """Every group was stopped in order: end the reaper (it kills what is still
        announced, which is nothing)."""
        if self._write_fd >= 0:
            os.close(self._write_fd)
            self._write_fd = -1
            self._reaper.wait(timeout=5)


def reap(read_fd: int) -> None:
    """The reaper's loop: follow the announcements until end of file, then kill."""
    groups: set[int] = set()
    pending = b""
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        while chunk := pipe.read(4096):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                sign, pgid = line[:1], int(line[1:])
                (groups.add if sign == b"+" else groups.discard)(pgid)
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # only end of file ends the reaper
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    reap(int(sys.argv[1]))
