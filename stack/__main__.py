"""`python -m stack`: start LiveKit, the STT service, the agent and the web server."""

from __future__ import annotations

import signal
import sys
import threading

from .process import ChildFailed
from .supervisor import Stack, StackConfig


def main() -> int:
    config = StackConfig.from_env()
    stack = Stack(config)
    stop = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        stack.start()
    except ChildFailed as e:
        print(f"stack: {e}", file=sys.stderr)
        return 1
    print(f"\n  PTT console ready: {config.web_url}\n  (Ctrl-C stops everything)\n", flush=True)
    try:
        while not stop.wait(0.5):
            dead = [c.name for c in stack.children.values() if not c.running()]
            if dead:
                print(f"stack: {', '.join(dead)} exited; stopping", file=sys.stderr)
                return 1
        return 0
    finally:
        print("stack: stopping", flush=True)
        stack.stop()
        print("stack: stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
