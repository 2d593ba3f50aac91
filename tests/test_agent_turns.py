"""The PTT controller on a real AgentSession with the real STT service and Deepgram plugin."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Iterator

import pytest

from agent.errors import ErrorCode, PttError
from agent.ffi_acks import ACK_S, within_rpc_deadline
from agent.stt_reset import STRATEGIES
from e2e.speech import synthesize
from tests.agent_harness import Harness, stt_service, until

pytestmark = [pytest.mark.unit, pytest.mark.slow]

ME = "alice"


@pytest.fixture(scope="module")
def stt_url() -> Iterator[str]:
    with stt_service() as url:
        yield url


@pytest.fixture(params=STRATEGIES)
async def harness(request: pytest.FixtureRequest, stt_url: str) -> AsyncIterator[Harness]:
    async with Harness(stt_url, request.param) as h:
        yield h


async def speak_and_commit(h: Harness, phrase: str) -> str:
    await h.controller.start_turn(ME, "")
    h.mic.say(synthesize(phrase))
    await until(lambda: not h.mic.speaking)
    await asyncio.sleep(0.2)  # trailing silence a speaker leaves before releasing
    done = len(h.metrics())
    await h.controller.end_turn(ME, "")
    await until(lambda: any(m["transcript"] for m in h.metrics()[done:]))
    return next(m["transcript"] for m in h.metrics()[done:] if m["transcript"])


async def test_turn_transcript_matches_phrase(harness: Harness) -> None:
    transcript = await speak_and_commit(harness, "turn on the lights")
    assert transcript == "turn on the lights"
    metrics = harness.metrics()[-1]
    assert metrics["release_to_final_ms"] is not None
    assert metrics["press_to_stt_ready_ms"] is not None


async def test_turn_first_words_kept_when_speech_precedes_start_turn(harness: Harness) -> None:
    # the user starts speaking at the press; start_turn arrives 150 ms later
    harness.mic.say(synthesize("open the door"))
    await asyncio.sleep(0.15)
    await harness.controller.start_turn(ME, "")
    await until(lambda: not harness.mic.speaking)
    await asyncio.sleep(0.2)
    await harness.controller.end_turn(ME, "")
    await until(lambda: any(m["transcript"] for m in harness.metrics()))
    assert harness.metrics()[-1]["transcript"] == "open the door"


async def test_cancelled_turn_words_never_reach_next_turn(harness: Harness) -> None:
    await harness.controller.start_turn(ME, "")
    harness.mic.say(synthesize("play some music"))
    await asyncio.sleep(0.6)  # mid-phrase
    await harness.controller.cancel_turn(ME, "")
    harness.mic.clear()  # the console mutes the microphone on cancel
    await asyncio.sleep(0.3)
    transcript = await speak_and_commit(harness, "close the door")
    assert transcript == "close the door"
    assert not {"play", "some", "music"} & set(transcript.split())


async def test_pause_refuses_turns_and_resume_keeps_context(harness: Harness) -> None:
    await speak_and_commit(harness, "hello agent")
    await harness.controller.pause(ME, "")
    assert harness.room.attributes["ptt.paused"] == "1"
    with pytest.raises(PttError) as refused:
        await harness.controller.start_turn(ME, "")
    assert refused.value.code == ErrorCode.PAUSED
    await harness.controller.resume(ME, "")
    assert harness.room.attributes["ptt.paused"] == "0"
    await speak_and_commit(harness, "how many turns")
    # the reply to the first turn was cut by the pause; its user message was kept
    await until(lambda: any("This is turn" in r for r in assistant_replies(harness)), within=15)
    assert "This is turn two" in assistant_replies(harness)[-1]


def assistant_replies(h: Harness) -> list[str]:
    return [m.text_content or "" for m in h.session.history.messages() if m.role == "assistant"]


async def test_invalid_requests_get_codes(harness: Harness) -> None:
    cases = [
        (harness.controller.end_turn, ME, "", ErrorCode.NO_OPEN_TURN),
        (harness.controller.start_turn, ME, "not json", ErrorCode.INVALID_PAYLOAD),
        (harness.controller.start_turn, ME, "[1, 2]", ErrorCode.INVALID_PAYLOAD),
    ]
    for method, caller, payload, code in cases:
        with pytest.raises(PttError) as e:
            await method(caller, payload)
        assert e.value.code == code
    await harness.controller.start_turn(ME, "")
    with pytest.raises(PttError) as busy:
        await harness.controller.start_turn("bob", "")
    assert busy.value.code == ErrorCode.TURN_BUSY
    with pytest.raises(PttError) as owner:
        await harness.controller.end_turn("bob", "")
    assert owner.value.code == ErrorCode.NOT_TURN_OWNER
    await harness.controller.cancel_turn(ME, "")


async def test_turn_rpcs_answer_while_the_attribute_write_never_completes(
    harness: Harness,
) -> None:
    # the SDK sometimes loses set_attributes' completion (agent/ffi_acks.py); a turn RPC
    # waiting for it held the page's next press back past the pre-roll
    harness.room.hold_writes()
    async with asyncio.timeout(10):  # a bound: awaiting the write, these never answer
        await harness.controller.start_turn(ME, "")
        await until(lambda: harness.room.writes_held == 1)  # its attribute: in flight
        with pytest.raises(PttError) as busy:  # refused from the agent's state, not the room's
            await harness.controller.start_turn("bob", "")
        assert busy.value.code == ErrorCode.TURN_BUSY
        await harness.controller.end_turn(ME, "")
        await harness.controller.start_turn("bob", "")
        await harness.controller.cancel_turn("bob", "")
    assert harness.room.writes == []
    harness.room.release_writes()
    await until(lambda: len(harness.room.writes) == 2)
    # in order: the write in flight, then what was posted meanwhile, merged (last wins)
    assert harness.room.writes == [{"ptt.turn_owner": ME}, {"ptt.turn_owner": ""}]
    assert harness.room.attributes["ptt.turn_owner"] == ""


async def test_reports_sent_after_an_rpc_answered_are_not_bound_by_its_deadline(
    harness: Harness,
) -> None:
    # each handler runs within_rpc_deadline (agent/worker.py); the turn's reports are
    # published after the answer, from the commit's callback: the caller no longer waits
    with within_rpc_deadline(1.0):
        await harness.controller.start_turn(ME, "")
    harness.mic.say(synthesize("turn on the lights"))
    await until(lambda: not harness.mic.speaking)
    with within_rpc_deadline(1.0):
        await harness.controller.end_turn(ME, "")
    await until(lambda: any(m["transcript"] for m in harness.metrics()))
    assert harness.room.publish_bounds and set(harness.room.publish_bounds) == {ACK_S}


async def test_random_turn_storm_leaves_no_errors_or_tasks(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    rng = random.Random(20261121)
    speech = synthesize("red green blue")
    await asyncio.sleep(0.5)
    baseline = len(asyncio.all_tasks())
    for _ in range(200):
        op = rng.choice(["start_turn", "end_turn", "cancel_turn"])
        if op == "start_turn" and rng.random() < 0.5:
            harness.mic.say(speech[: rng.randrange(len(speech))])
        try:
            await getattr(harness.controller, op)(ME, "")
        except PttError as e:
            assert e.code == ErrorCode.NO_OPEN_TURN
        await asyncio.sleep(rng.uniform(0, 0.05))
    if harness.controller.turn_owner:
        await harness.controller.cancel_turn(ME, "")
    harness.mic.clear()
    await until(lambda: len(asyncio.all_tasks()) <= baseline, within=20)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    leaked = [
        r
        for r in caplog.records
        if "never retrieved" in r.getMessage() or "destroyed but it is pending" in r.getMessage()
    ]
    assert not leaked


async def test_reply_stages_are_reported_in_order(harness: Harness) -> None:
    await speak_and_commit(harness, "hello agent")
    await until(lambda: any((m["stages_ms"] or {}).get("reply_done") for m in harness.metrics()))
    first, *_, last = [m for m in harness.metrics() if m["turn"] == 1]
    assert first["stages_ms"]["committed"] is not None  # published at the commit
    assert first["stages_ms"]["first_frame"] is None
    stages = last["stages_ms"]
    order = ["committed", "reply_text", "tts_first_chunk", "first_frame", "reply_done"]
    values = [stages[s] for s in order]
    assert None not in values, stages
    assert values == sorted(values), stages
    assert stages["first_frame"] == last["release_to_first_audio_ms"]
    assert stages["playout"] is None  # this harness's sink is no room audio source
