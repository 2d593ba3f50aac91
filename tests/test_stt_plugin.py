"""STT service against the real livekit-plugins-deepgram streaming STT (parity)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator

import aiohttp
import numpy as np
import pytest
from livekit import rtc
from livekit.agents import stt
from livekit.plugins import deepgram

from stt_service.config import Settings
from stt_service.testing import ServiceThread, silence, synthesize

pytestmark = pytest.mark.unit

Speech = Callable[[str, int], np.ndarray]
EV = stt.SpeechEventType


@pytest.fixture(scope="module")
def service() -> Iterator[ServiceThread]:
    with ServiceThread(Settings(workers=2)) as svc:
        yield svc


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Speech:
    """A phrase at a sample rate, without espeak-ng's trailing silence."""
    directory = tmp_path_factory.mktemp("speech")
    cache: dict[tuple[str, int], np.ndarray] = {}

    def make(text: str, rate: int) -> np.ndarray:
        if (text, rate) not in cache:
            pcm = synthesize(text, directory, sample_rate=rate)
            cache[(text, rate)] = pcm[: int(np.nonzero(np.abs(pcm) > 100)[0][-1]) + 1]
        return cache[(text, rate)]

    return make


@pytest.fixture
async def dg(service: ServiceThread) -> AsyncIterator[Callable[..., deepgram.STT]]:
    """Build plugin STTs pointed at the service, sharing one aiohttp session."""
    async with aiohttp.ClientSession() as http:
        made: list[deepgram.STT] = []

        def make(**kwargs: object) -> deepgram.STT:
            plugin = deepgram.STT(
                base_url=service.url, api_key="anything", http_session=http, **kwargs
            )
            made.append(plugin)
            return plugin

        yield make
        for plugin in made:
            await plugin.aclose()


@pytest.fixture(autouse=True)
def no_errors_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The plugin and the service log nothing at ERROR, and the plugin warns of nothing."""
    caplog.set_level(logging.INFO)
    yield
    bad = [
        r
        for r in caplog.records
        if r.levelno >= logging.ERROR
        or (r.levelno >= logging.WARNING and r.name.startswith(("livekit", "stt_service")))
    ]
    assert not bad, [f"{r.name}: {r.getMessage()}" for r in bad]


def push(stream: stt.SpeechStream, pcm: np.ndarray, rate: int, frame_ms: int = 20) -> None:
    size = rate * frame_ms // 1000
    for i in range(0, pcm.size, size):
        chunk = pcm[i : i + size]
        stream.push_frame(rtc.AudioFrame(chunk.tobytes(), rate, 1, chunk.size))


async def next_final(events: AsyncIterator[stt.SpeechEvent]) -> list[stt.SpeechEvent]:
    """Events up to and including the next non-empty final transcript."""
    seen = []
    async with asyncio.timeout(30):
        async for ev in events:
            seen.append(ev)
            if ev.type is EV.FINAL_TRANSCRIPT:
                return seen
    raise AssertionError(f"stream ended without a final transcript: {seen}")


async def drain(events: AsyncIterator[stt.SpeechEvent]) -> list[stt.SpeechEvent]:
    async with asyncio.timeout(30):
        return [ev async for ev in events]


def text(ev: stt.SpeechEvent) -> str:
    return ev.alternatives[0].text


async def until(
    events: AsyncIterator[stt.SpeechEvent], kind: stt.SpeechEventType
) -> list[stt.SpeechEvent]:
    """Events up to and including the first of ``kind``."""
    seen = []
    async with asyncio.timeout(30):
        async for ev in events:
            seen.append(ev)
            if ev.type is kind:
                return seen
    raise AssertionError(f"stream ended before {kind}: {seen}")


@pytest.mark.parametrize(("rate", "frame_ms"), [(16000, 10), (48000, 20)])
async def test_stt_plugin_interim_then_final(
    dg: Callable[..., deepgram.STT], speech: Speech, rate: int, frame_ms: int
) -> None:
    phrase = "set a timer for five minutes"
    stream = dg(interim_results=True, sample_rate=rate).stream()
    pcm = np.concatenate([silence(0.3, rate), speech(phrase, rate), silence(0.6, rate)])
    push(stream, pcm, rate, frame_ms)
    events = await until(stream, EV.END_OF_SPEECH)
    kinds = [ev.type for ev in events if ev.type is not EV.RECOGNITION_USAGE]
    assert kinds[0] is EV.START_OF_SPEECH
    finals = [text(ev) for ev in events if ev.type is EV.FINAL_TRANSCRIPT]
    assert finals == [phrase]
    interims = [text(ev) for ev in events if ev.type is EV.INTERIM_TRANSCRIPT]
    assert interims and interims[-1] == phrase
    assert kinds.index(EV.INTERIM_TRANSCRIPT) < kinds.index(EV.FINAL_TRANSCRIPT)
    assert kinds[-1] is EV.END_OF_SPEECH
    final = next(ev for ev in events if ev.type is EV.FINAL_TRANSCRIPT).alternatives[0]
    assert [str(w) for w in final.words or []] == phrase.split()
    assert 0.2 < final.start_time < final.end_time < 3.5
    await stream.aclose()


async def test_stt_plugin_end_input_closes_cleanly(
    dg: Callable[..., deepgram.STT], speech: Speech, service: ServiceThread
) -> None:
    """end_input(): Finalize, CloseStream, Metadata, close 1000, and the stream ends.

    Takes ~5 s: the plugin's keepalive task sleeps 5 s between KeepAlives and the stream
    only ends once that task notices the closed socket (the same against Deepgram).
    """
    rate = 48000
    stream = dg(interim_results=True, sample_rate=rate).stream()
    push(stream, np.concatenate([silence(0.2, rate), speech("hello agent", rate)]), rate)
    stream.end_input()  # flushes first: the utterance is finalized, not lost
    events = await drain(stream)
    assert [text(ev) for ev in events if ev.type is EV.FINAL_TRANSCRIPT] == ["hello agent"]
    assert await asyncio.to_thread(service.stream_count) == 0


async def test_stt_plugin_flush_finalizes_each_turn(
    dg: Callable[..., deepgram.STT], speech: Speech
) -> None:
    """flush() (Finalize) yields the final transcript without waiting for silence."""
    rate = 48000
    stream = dg(interim_results=True, sample_rate=rate).stream()
    for phrase in ("turn on the lights", "what is the weather"):
        push(stream, np.concatenate([silence(0.2, rate), speech(phrase, rate)]), rate)
        stream.flush()
        events = await next_final(stream)
        assert text(events[-1]) == phrase
        assert [text(ev) for ev in events if ev.type is EV.FINAL_TRANSCRIPT] == [phrase]
    await stream.aclose()


async def test_stt_plugin_pushing_silence_gets_the_final(
    dg: Callable[..., deepgram.STT], speech: Speech
) -> None:
    """Like an agent flushing with silence frames: the endpoint arrives, no flush needed."""
    rate = 16000
    stream = dg(interim_results=False, sample_rate=rate, endpointing_ms=25).stream()
    push(stream, speech("good morning", rate), rate)
    for _ in range(10):  # 2 s of 0.2 s silence frames, as livekit-agents sends them
        stream.push_frame(rtc.AudioFrame(silence(0.2, rate).tobytes(), rate, 1, rate // 5))
    events = await next_final(stream)
    assert text(events[-1]) == "good morning"
    await stream.aclose()


async def test_stt_plugin_stream_closed_mid_speech_then_a_new_one(
    dg: Callable[..., deepgram.STT], speech: Speech, service: ServiceThread
) -> None:
    """A PTT reset: the old stream is closed mid-utterance, the next one works."""
    rate = 48000
    plugin = dg(interim_results=True, sample_rate=rate)
    old = plugin.stream()
    phrase = speech("one two three four five", rate)
    push(old, phrase[: phrase.size // 2], rate)
    async with asyncio.timeout(30):
        async for ev in old:
            if ev.type is EV.INTERIM_TRANSCRIPT:
                break  # the server is decoding this stream
    await old.aclose()
    new = plugin.stream()
    push(new, np.concatenate([speech("repeat that", rate), silence(0.5, rate)]), rate)
    events = await next_final(new)
    assert text(events[-1]) == "repeat that"
    await new.aclose()
    async with asyncio.timeout(10):  # both recognizers are freed
        while await asyncio.to_thread(service.stream_count) != 0:
            await asyncio.sleep(0.05)
