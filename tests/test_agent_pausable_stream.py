"""PausableAudioStream and MuteLedger on the real FFI library: a local track fed by an
unqueued source, read through the same iterator across pauses."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import numpy as np
import pytest
from livekit import rtc
from livekit.rtc._ffi_client import FfiClient
from livekit.rtc._proto import ffi_pb2 as proto

from agent import ffi_routes
from agent.input_pause import InputPause
from agent.pausable_stream import MuteLedger, PausableAudioStream

pytestmark = pytest.mark.unit

RATE, SAMPLES = 16000, 160  # 10 ms frames in, 10 ms frames out: one read per capture


class Mic:
    """A local track and its source; `send(value)` captures one frame of that value."""

    def __init__(self) -> None:
        ffi_routes.install()
        self.source = rtc.AudioSource(RATE, 1, queue_size_ms=0)
        self.track = rtc.LocalAudioTrack.create_audio_track("mic", self.source)

    async def send(self, value: int, count: int = 1) -> None:
        data = np.full(SAMPLES, value, np.int16).tobytes()
        for _ in range(count):
            await self.source.capture_frame(rtc.AudioFrame(data, RATE, 1, SAMPLES))

    def stream(self) -> PausableAudioStream:
        return PausableAudioStream(self.track, sample_rate=RATE, num_channels=1, frame_size_ms=10)

    async def aclose(self) -> None:
        await self.source.aclose()


async def _next_value(it: Any) -> int:
    event = await asyncio.wait_for(it.__anext__(), 5)
    return int(np.frombuffer(event.frame.data, dtype=np.int16)[0])


async def test_a_paused_stream_gets_nothing_and_its_reader_goes_on_after_resume() -> None:
    mic = Mic()
    stream = mic.stream()
    it = stream.__aiter__()
    try:
        await mic.send(1000)
        assert await _next_value(it) == 1000
        assert stream.pause() and stream.paused
        assert not stream.pause()  # already paused
        await mic.send(2000, count=20)  # captured and completed while paused: never read
        assert stream.resume() and not stream.paused
        assert not stream.resume()
        await mic.send(3000)
        assert await _next_value(it) == 3000  # the same iterator, nothing of the gap
    finally:
        await stream.aclose()
        await mic.aclose()
    with pytest.raises(StopAsyncIteration):
        await it.__anext__()


async def test_closing_a_paused_stream_ends_its_reader_and_leaves_no_subscriber() -> None:
    mic = Mic()
    queue = FfiClient.instance.queue
    assert isinstance(queue, ffi_routes.RoutedFfiQueue)
    before = queue.counts()
    stream = mic.stream()
    reader = asyncio.ensure_future(stream.__anext__())
    try:
        assert stream.pause()
        await stream.aclose()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(reader, 5)
        assert queue.counts() == before
    finally:
        await mic.aclose()


async def test_an_adopted_stream_is_the_same_object_and_pauses() -> None:
    mic = Mic()
    plain = rtc.AudioStream(mic.track, sample_rate=RATE, num_channels=1, frame_size_ms=10)
    stream = PausableAudioStream.adopt(plain)
    it = stream.__aiter__()
    try:
        assert stream is plain and not stream.paused
        assert stream.pause()
        await mic.send(2000, count=5)
        assert stream.resume()
        await mic.send(3000)
        assert await _next_value(it) == 3000
    finally:
        await stream.aclose()
        await mic.aclose()


async def test_the_ledger_resumes_at_an_unmute_from_the_librarys_thread() -> None:
    mic = Mic()
    ledger = MuteLedger()
    stream = mic.stream()
    sid = stream.track_sid
    assert sid is not None
    it = stream.__aiter__()
    try:
        ledger.listen(stream)
        ledger.observe(sid, True)
        assert ledger.pause_if_muted(stream, default=False)
        await mic.send(2000, count=5)
        thread = threading.Thread(target=ledger.observe, args=(sid, False))
        thread.start()
        thread.join()
        assert not stream.paused
        # a pause decided after the unmute (a loop late to the mute) does nothing
        assert not ledger.pause_if_muted(stream, default=True)
        await mic.send(3000)
        assert await _next_value(it) == 3000
        ledger.forget(stream)
        ledger.observe(sid, True)
        assert ledger.pause_if_muted(stream, default=False)
        ledger.observe(sid, False)  # forgotten: not resumed by it any more
        assert stream.paused
    finally:
        await stream.aclose()
        await mic.aclose()


def test_the_ledger_falls_back_to_the_publications_state_for_a_track_never_reported() -> None:
    ledger = MuteLedger()
    assert ledger.muted("TR_x", default=True) and not ledger.muted("TR_x", default=False)
    ledger.observe("TR_x", False)
    assert not ledger.muted("TR_x", default=True)


def _mute_event(sid: str, muted: bool) -> Any:
    event = proto.FfiEvent()
    which = event.room_event.track_muted if muted else event.room_event.track_unmuted
    which.participant_identity, which.track_sid = "user", sid
    event.room_event.room_handle = 7
    return event


async def test_the_routed_queue_tells_mutes_in_its_thread_before_delivering() -> None:
    queue = ffi_routes.RoutedFfiQueue()
    room = queue.subscribe(asyncio.get_running_loop(), lambda e: True)
    seen: list[tuple[str, bool, int]] = []
    queue.watch_mutes(lambda sid, muted: seen.append((sid, muted, room.qsize())))
    queue.put(_mute_event("TR_a", True))
    queue.put(_mute_event("TR_a", False))
    assert [s[:2] for s in seen] == [("TR_a", True), ("TR_a", False)]
    assert seen[0][2] == 0  # told before the room's loop could have it
    await asyncio.sleep(0)
    assert room.qsize() == 2


class FakeInput:
    """room_io's audio input as InputPause sees it: `_create_stream` and `_stream`."""

    def __init__(self, mic: Mic) -> None:
        self._mic = mic
        self._stream: rtc.AudioStream | None = None
        self._publication: Any = None

    def _create_stream(self, track: Any, participant: Any) -> rtc.AudioStream:
        return rtc.AudioStream(self._mic.track, sample_rate=RATE, num_channels=1)

    def open(self, participant: Any) -> None:  # what room_io does on a subscription
        self._stream = self._create_stream(self._mic.track, participant)


class Person:
    def __init__(self, sid: str, muted: bool) -> None:
        self.track_publications = {sid: type("Pub", (), {"muted": muted})()}


async def test_input_pause_pauses_a_muted_microphone_only_between_turns() -> None:
    mic = Mic()
    ledger = MuteLedger()
    turn = [False]
    room_input = FakeInput(mic)
    pause = InputPause(room_input, lambda: turn[0], ledger)
    sid = mic.track.sid
    try:
        room_input.open(Person(sid, muted=True))  # published muted: paused from the start
        stream = room_input._stream
        assert isinstance(stream, PausableAudioStream) and stream.paused
        ledger.observe(sid, False)  # the press: unmuted
        assert not stream.paused
        turn[0] = True  # the controller's state first, then its hook
        pause.turn_changed(True)
        ledger.observe(sid, True)  # muted while the turn is open: kept
        pause.settle()
        assert not stream.paused
        turn[0] = False
        pause.turn_changed(False)  # the turn closed, the microphone muted
        assert stream.paused
        turn[0] = True
        pause.turn_changed(True)  # a press before the unmute reaches the agent
        assert not stream.paused
        assert pause.pauses == 2
    finally:
        if room_input._stream is not None:
            await room_input._stream.aclose()
        await mic.aclose()


async def test_input_pause_adopts_the_stream_room_io_made_before_it() -> None:
    mic = Mic()
    ledger = MuteLedger()
    room_input = FakeInput(mic)
    room_input.open(Person(mic.track.sid, muted=True))  # at the session's start
    ledger.observe(mic.track.sid, True)
    pause = InputPause(room_input, lambda: False, ledger)
    stream = room_input._stream
    try:
        assert isinstance(stream, PausableAudioStream) and not stream.paused
        pause.settle()
        assert stream.paused
        ledger.observe(mic.track.sid, False)
        assert not stream.paused
    finally:
        assert stream is not None
        await stream.aclose()
        await mic.aclose()
