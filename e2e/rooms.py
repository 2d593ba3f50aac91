"""Room names for tests: one fresh room per test, so no test sees another's agent."""

from __future__ import annotations

import pytest


def room_of(request: pytest.FixtureRequest) -> str:
    name = request.node.name[:40].replace("[", "-").replace("]", "")
    return f"e2e-{name}"
