"""`python -m stack`: start LiveKit, the STT service, the agent and the web server."""

from __future__ import annotations

import select
import signal
import socket
import sys


class Signals:
    """SIGINT/SIGTERM counted without taking any lock.

    The handler only adds one to an int. CPython runs it in the main thread between two
    bytecodes, possibly inside a lock-holding call such as `Event.wait`, so anything that
    locks (`Event.set`, `print`, logging) could deadlock there. The wake-up fd makes the
    main loop's `select` return as soon as a signal arrives."""

    def __init__(self) -> None:
        self.count = 0
        self._rx, self._tx = socket.socketpair()
        for end in (self._rx, self._tx):
            end.setblocking(False)

    def install(self) -> None:
        signal.set_wakeup_fd(self._tx.fileno(), warn_on_full_buffer=False)
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)

    def _on_signal(self, _signum: int, _frame: object) -> None:
        self.count += 1

    def requested(self) -> bool:
        return self.count > 0

    def hurry(self) -> bool:
        """A second signal: stop without waiting for drains."""
        return self.count > 1

    def wait(self, timeout: float) -> bool:
        """Sleep until a signal or `timeout`; True once a stop was requested."""
        if not self.requested():
            select.select([self._rx], [], [], timeout)
            try:
                while self._rx.recv(64):
                    pass
            except BlockingIOError:
                pass
        return self.requested()


# Counted from before the supervisor's own imports: a SIGINT that came during them was
# raised as KeyboardInterrupt wherever the interpreter was, and was lost when that was a
# finalizer or a callback (the whole stack then started and ran on; test_stack_stop,
# SIGINT 0.08 s after exec). Now it is counted, and the start is stopped at its first check.
SIGNALS = Signals()
SIGNALS.install()

from .ports import PortTaken  # noqa: E402
from .process import ChildFailed, StopRequested  # noqa: E402
from .supervisor import Stack, StackConfig  # noqa: E402


def main() -> int:
    config = StackConfig.from_env()
    signals = SIGNALS
    stack = Stack(config, stop_requested=signals.requested, hurry=signals.hurry)
    try:
        stack.start()
    except PortTaken as e:
        print(f"stack: {e}", file=sys.stderr)
        return 1
    except StopRequested:
        print("stack: stopped while starting", flush=True)
        return 0
    except ChildFailed as e:
        print(f"stack: {e}", file=sys.stderr)
        return 1
    print(f"\n  PTT console ready: {config.web_url}\n  (Ctrl-C stops everything)\n", flush=True)
    reported: set[str] = set()
    try:
        while not signals.wait(0.5):
            dead = [c.name for c in stack.children.values() if not c.running()]
            fatal = stack.fatal(dead)
            if fatal:
                print(f"stack: {', '.join(fatal)} exited; stopping", file=sys.stderr)
                return 1
            for name in sorted(set(dead) - reported):
                print(f"stack: {name} exited; the cluster goes on without it", file=sys.stderr)
                reported.add(name)
        return 0
    finally:
        print("stack: stopping (Ctrl-C again to kill at once)", flush=True)
        stack.stop()
        print("stack: stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
