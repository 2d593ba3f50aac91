"""Room names for e2e tests: one per test, valid for the console's name rules."""

from __future__ import annotations

import hashlib
import re

import pytest

_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_.-]")


def room_of(request: pytest.FixtureRequest, suffix: str = "") -> str:
    """A room name unique to the running test (and `suffix`): readable, at most 64
    characters, only letters, digits, `_`, `.` and `-`."""
    digest = hashlib.sha1(f"{request.node.nodeid}/{suffix}".encode()).hexdigest()[:6]
    name = _NOT_ALLOWED.sub("-", request.node.name)[:40].rstrip("-")
    tail = f"-{_NOT_ALLOWED.sub('-', suffix)[:8]}" if suffix else ""
    return f"e2e-{name}{tail}-{digest}"
