"""What the agent heard: each turn's audio as fed to the STT, kept for the last turns and
sent on request (the store alone, then a real session with the real STT service)."""

from __future__ import annotations

import asyncio
import io
import json
import wave
from collections.abc import AsyncIterator, Iterator

import numpy as np
import pytest
from livekit import rtc

from agent.errors import ErrorCode, PttError, TurnEvicted, TurnUnknown
from agent.ptt import TOPIC_TURN_AUDIO
from agent.turn_audio import TurnAudioStore
from e2e.speech import RATE, synthesize
from tests.agent_harness import Harness, stt_service, until

pytestmark = pytest.mark.unit

ME = "alice"


def _frame(value: int, ms: int = 10, rate: int = 16000) -> rtc.AudioFrame:
    n = rate * ms // 1000
    data = np.full(n, value, dtype=np.int16)
    return rtc.AudioFrame(data.tobytes(), rate, 1, n)


def _samples(wav_bytes: bytes) -> tuple[int, np.ndarray]:
    with wave.open(io.BytesIO(wav_bytes)) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        return w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)


def test_a_turn_keeps_its_frames_in_order_preroll_first() -> None:
    t = iter(float(i) for i in range(100))
    store = TurnAudioStore(keep=3, clock=lambda: next(t))
    store.fed(_frame(9))  # no turn yet: not recorded
    store.start(1)
    store.fed(_frame(1), preroll=True)
    store.fed(_frame(2))
    store.fed(_frame(3))
    store.stop()
    store.fed(_frame(4))  # after the turn: not its own
    rec = store.get(1)
    rate, samples = _samples(rec.wav())
    assert rate == 16000
    assert list(np.unique(samples)) == [1, 2, 3]
    assert list(samples[:160]) == [1] * 160 and list(samples[-160:]) == [3] * 160
    d = rec.describe()
    assert d["preroll_ms"] == 10.0
    assert d["seconds"] == 0.03
    assert d["first_frame_ms"] < d["last_frame_ms"]


def test_old_turns_are_evicted_and_unknown_turns_named() -> None:
    store = TurnAudioStore(keep=2)
    with pytest.raises(TurnUnknown, match="no turn was recorded yet"):
        store.get(1)
    for n in (1, 2, 3):
        store.start(n)
        store.fed(_frame(n))
    with pytest.raises(TurnEvicted) as evicted:
        store.get(1)
    assert evicted.value.code == ErrorCode.TURN_EVICTED
    with pytest.raises(TurnUnknown, match="turns 2-3 are kept") as unknown:
        store.get(7)
    assert unknown.value.code == ErrorCode.TURN_UNKNOWN
    assert store.get(3).turn == 3


@pytest.fixture(scope="module")
def stt_url() -> Iterator[str]:
    with stt_service() as url:
        yield url


@pytest.fixture
async def harness(stt_url: str) -> AsyncIterator[Harness]:
    async with Harness(stt_url, "prewarm") as h:
        yield h


@pytest.mark.slow
async def test_the_agent_sends_what_the_stt_got_for_a_turn(harness: Harness) -> None:
    phrase = synthesize("open the door")
    harness.mic.say(phrase)  # speech starts before start_turn arrives: pre-roll
    await asyncio.sleep(0.15)
    await harness.controller.start_turn(ME, "")
    await until(lambda: not harness.mic.speaking)
    await asyncio.sleep(0.2)
    await harness.controller.end_turn(ME, "")
    await until(lambda: any(m["transcript"] for m in harness.metrics()))
    assert harness.metrics()[-1]["transcript"] == "open the door"

    answer = json.loads(await harness.controller.get_turn_audio(ME, '{"turn": 1}'))
    await until(lambda: bool(harness.room.sent_bytes))
    to, topic, stream_id, data = harness.room.sent_bytes[-1]
    assert (to, topic, stream_id) == (ME, TOPIC_TURN_AUDIO, answer["stream_id"])
    assert answer["complete"] is True and answer["bytes"] == len(data)
    assert answer["preroll_ms"] > 0
    rate, samples = _samples(data)
    assert rate == RATE  # the harness's microphone rate (the worker's room input: 16 kHz)
    # the whole phrase is in it, its first words included
    said = np.abs(phrase.astype(np.int32)).max()
    heard = np.abs(samples.astype(np.int32)).max()
    assert heard > 0.5 * said
    assert len(samples) / rate >= len(phrase) / RATE - 0.15  # at most the pre-roll gap
    instants = harness.metrics()[-1]["instants_ms"]
    assert instants["start_turn"] <= answer["first_frame_ms"] <= instants["end_turn"]
    assert instants["stt_ready"] is not None and instants["interims"]


async def test_bad_turn_audio_requests_are_refused_with_codes(harness: Harness) -> None:
    for payload, code in (
        ("", ErrorCode.INVALID_PAYLOAD),
        ('{"turn": "1"}', ErrorCode.INVALID_PAYLOAD),
        ('{"turn": 0}', ErrorCode.INVALID_PAYLOAD),
        ('{"turn": true}', ErrorCode.INVALID_PAYLOAD),
        ('{"turn": 5}', ErrorCode.TURN_UNKNOWN),
    ):
        with pytest.raises(PttError) as refused:
            await harness.controller.get_turn_audio(ME, payload)
        assert refused.value.code == code, payload
    assert harness.room.sent_bytes == []
