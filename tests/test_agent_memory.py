"""An ended turn is freed: nothing carries it into later turns (the soak's memory growth)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from agent.stt_reset import STRATEGIES, TurnStream
from tests.agent_harness import Harness, stt_service
from tests.test_agent_turns import speak_and_commit

pytestmark = [pytest.mark.unit, pytest.mark.slow]

TURNS = 6


@pytest.fixture(scope="module")
def stt_url() -> Iterator[str]:
    with stt_service() as url:
        yield url


def turn_streams() -> list[TurnStream]:
    gc.collect()
    return [o for o in gc.get_objects() if isinstance(o, TurnStream)]


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_ended_turn_streams_are_freed(stt_url: str, strategy: str) -> None:
    # Before the fix a standby stream opened during turn N inherited the framework's
    # context variable holding N's STT pipeline, so every ended turn stayed reachable.
    async with Harness(stt_url, strategy) as h:
        for _ in range(TURNS):
            assert await speak_and_commit(h, "open the door") == "open the door"
        await asyncio.sleep(0.5)  # the last turn's stream ends after its final
        alive = turn_streams()
        ended = [s for s in alive if s._task.done()]
        # the session's current stream (the next turn's) may be alive; ended ones not
        assert len(alive) <= 2, f"{len(alive)} turn streams alive after {TURNS} turns"
        assert ended == [], f"{len(ended)} ended turn streams still reachable"
