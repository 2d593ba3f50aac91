"""No turn is lost when the STT service dies (agent/stt_reset.py): the real service is
SIGKILLed mid-turn or between the release and the final, and started again on its port;
the committed transcript is still the phrase, spoken once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import pytest

from agent.stt_reset import STRATEGIES
from e2e.speech import synthesize
from tests.agent_harness import Harness, KillableSTT
from tests.test_agent_turns import ME, until

pytestmark = [pytest.mark.unit, pytest.mark.slow]

HOLD_MS = 1500  # the service holds every result until this long after the Finalize
# the commit's wait for the final (3 s in the worker): these tests judge the replay, not
# how fast a SIGKILLed service comes back on a loaded machine (9 s seen in CI)
WAIT_S = 20.0


@pytest.fixture
def stt() -> Iterator[KillableSTT]:
    service = KillableSTT()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(params=STRATEGIES)
def strategy(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def release_and_commit(h: Harness) -> str:
    """Once the phrase is out and a speaker's trailing silence passed: end_turn, and the
    transcript the turn committed."""
    await until(lambda: not h.mic.speaking)
    await asyncio.sleep(0.2)
    done = len(h.metrics())
    await h.controller.end_turn(ME, "")
    return await commit(h, done)


async def commit(h: Harness, done: int) -> str:
    """The transcript of the first turn committed after `done` metrics."""
    await until(lambda: len(h.metrics()) > done, within=WAIT_S + 5)
    return str(h.metrics()[done]["transcript"])


async def test_stt_killed_between_release_and_final_keeps_the_transcript(
    stt: KillableSTT, strategy: str
) -> None:
    stt.start(hold_ms=HOLD_MS)
    async with Harness(stt.url, strategy, transcript_timeout=WAIT_S) as h:  # type: ignore[arg-type]
        await h.controller.start_turn(ME, "")
        h.mic.say(synthesize("turn on the lights"))
        await until(lambda: not h.mic.speaking)
        await asyncio.sleep(0.2)
        done = len(h.metrics())
        await h.controller.end_turn(ME, "")
        await asyncio.sleep(0.3)  # the Finalize went out; the results are held back
        assert len(h.metrics()) == done, "committed before the STT answered"
        await asyncio.to_thread(stt.restart)  # SIGKILL, then a fresh service, no hold
        assert await commit(h, done) == "turn on the lights"
        assert h.stt.recoveries >= 1
        # and the next turn works as ever
        await h.controller.start_turn(ME, "")
        h.mic.say(synthesize("open the door"))
        assert await release_and_commit(h) == "open the door"


async def test_stt_killed_mid_turn_keeps_every_word(stt: KillableSTT, strategy: str) -> None:
    stt.start()
    async with Harness(stt.url, strategy, transcript_timeout=WAIT_S) as h:  # type: ignore[arg-type]
        await h.controller.start_turn(ME, "")
        h.mic.say(synthesize("close the door"))
        await asyncio.sleep(0.4)  # mid-phrase
        await asyncio.to_thread(stt.restart)
        assert await release_and_commit(h) == "close the door"
        assert h.stt.recoveries >= 1


async def test_words_finalized_before_the_crash_are_not_replayed(
    stt: KillableSTT, strategy: str
) -> None:
    stt.start()
    async with Harness(stt.url, strategy, transcript_timeout=WAIT_S) as h:  # type: ignore[arg-type]
        await h.controller.start_turn(ME, "")
        pause = np.zeros(48000, dtype=np.int16)  # endpointing finalizes the first phrase
        h.mic.say(np.concatenate([synthesize("turn on the lights"), pause]))
        await until(lambda: not h.mic.speaking)
        await until(lambda: bool(h.user_finals), within=10)
        assert h.user_finals == ["turn on the lights"]
        await asyncio.to_thread(stt.restart)
        h.mic.say(synthesize("open the door"))
        assert await release_and_commit(h) == "turn on the lights open the door"
        assert h.stt.recoveries >= 1
