"""Headless client: which `ptt.metrics` entry is a turn's (late entries of earlier turns
must not be taken for the next one's, as after a barge-in)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from headless.room import MUTE_GAP_S, Received, RoomClient, RpcOutcome
from headless.target import Grant
from headless.turns import Talker, _answered_turn

pytestmark = pytest.mark.unit

ME = "soak-user"


class _Client:
    """What Talker reads from a RoomClient: who it is and what the agent sent."""

    def __init__(self) -> None:
        self.identity = ME
        self.got = Received()

    def agent_attr(self, key: str) -> str | None:
        return "job-1" if key == "ptt.instance" else None

    async def wait_for(self, predicate: Callable[[], bool], within: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not predicate():
            if loop.time() > deadline:
                return False
            await asyncio.sleep(0.005)
        return True

    def receive(self, sender: str, **data: Any) -> None:
        self.got.metrics.append((0.0, {"owner": ME, **data}))
        self.got.metrics_senders.append(sender)


def _committed(m: dict[str, Any]) -> bool:
    return m.get("release_to_final_ms") is not None


async def test_a_late_entry_of_the_previous_turn_is_not_the_next_turns() -> None:
    client = _Client()
    talker = Talker(client)  # type: ignore[arg-type]
    client.receive("ptt-agent/PA_1", turn=23, transcript="repeat that", release_to_final_ms=12)
    mark = len(client.got.metrics)  # the barge-in: pressed while turn 23's reply plays

    async def agent() -> None:
        await asyncio.sleep(0.02)  # turn 23's first-audio entry, after the press
        client.receive("ptt-agent/PA_1", turn=23, transcript="repeat that", release_to_final_ms=12)
        await asyncio.sleep(0.02)
        client.receive(
            "ptt-agent/PA_1", turn=24, transcript="close the door", release_to_final_ms=8
        )

    feed = asyncio.ensure_future(agent())
    entry = await talker._metrics_for(mark, _committed, 2.0)
    await feed
    assert entry is not None
    assert entry[1]["turn"] == 24
    assert entry[1]["transcript"] == "close the door"


async def test_a_rebuilt_agent_counting_from_one_again_is_matched() -> None:
    client = _Client()
    talker = Talker(client)  # type: ignore[arg-type]
    client.receive("ptt-agent/PA_old", turn=1, transcript="hello agent", release_to_final_ms=10)
    mark = len(client.got.metrics)
    client.receive("ptt-agent/PA_new", turn=1, transcript="good night", release_to_final_ms=11)
    entry = await talker._metrics_for(mark, _committed, 1.0)
    assert entry is not None
    assert entry[1]["transcript"] == "good night"


async def test_only_earlier_entries_of_that_turn_leave_nothing() -> None:
    client = _Client()
    talker = Talker(client)  # type: ignore[arg-type]
    client.receive("ptt-agent/PA_1", turn=3, transcript="red", release_to_final_ms=10)
    mark = len(client.got.metrics)
    client.receive("ptt-agent/PA_1", turn=3, transcript="red", release_to_final_ms=10)
    assert await talker._metrics_for(mark, _committed, 0.1) is None


async def test_a_burst_of_taps_last_report_is_not_the_next_turns_when_the_agent_named_it() -> None:
    """A tap's only report can arrive after the next press (the soak's 'heard ""' after
    its rapid op): with the turn number from the start_turn answer only that turn's
    entry is taken."""
    client = _Client()
    talker = Talker(client)  # type: ignore[arg-type]
    mark = len(client.got.metrics)
    start = RpcOutcome("start_turn", 0.0, 0.01, response='{"turn": 168}')
    assert start.ok

    async def agent() -> None:
        await asyncio.sleep(0.02)  # the last tap's commit, reported after the press
        client.receive("ptt-agent/PA_1", turn=167, transcript="", release_to_final_ms=30)
        await asyncio.sleep(0.02)
        client.receive("ptt-agent/PA_1", turn=168, transcript="thank you", release_to_final_ms=9)

    feed = asyncio.ensure_future(agent())
    entry = await talker._metrics_for(mark, _committed, 2.0, _answered_turn(start))
    await feed
    assert entry is not None and entry[1]["transcript"] == "thank you"
    assert _answered_turn(RpcOutcome("start_turn", 0.0, 0.01, response="ok")) is None


class _Mic:
    """What set_mic uses of an rtc.LocalAudioTrack, recording the order of its calls."""

    def __init__(self) -> None:
        self.muted = True
        self.calls: list[str] = []

    def mute(self) -> None:
        self.muted = True
        self.calls.append("mute")

    def unmute(self) -> None:
        self.muted = False
        self.calls.append("unmute")


async def test_an_unmute_right_after_a_mute_waits_so_the_signals_cannot_swap() -> None:
    client = RoomClient(Grant("ws://127.0.0.1:1", "t", "r", "me", "ptt-agent"))
    mic = _Mic()
    client.mic = mic  # type: ignore[assignment]
    client.set_mic(True)  # no mute before: at once
    assert mic.calls == ["unmute"]
    client.set_mic(False)
    client.set_mic(True)  # a tap's release, then the next press at once
    assert mic.calls == ["unmute", "mute"]  # not yet
    await asyncio.sleep(MUTE_GAP_S * 2)
    assert mic.calls == ["unmute", "mute", "unmute"]
    client.set_mic(False)
    client.set_mic(True)
    client.set_mic(False)  # released before the delayed unmute: it never happens
    await asyncio.sleep(MUTE_GAP_S * 2)
    assert mic.calls == ["unmute", "mute", "unmute", "mute"] and mic.muted
    await client.source.aclose()


class _Ear:
    """What listen() uses of a PausableAudioStream."""

    def __init__(self) -> None:
        self.paused = True
        self.calls: list[str] = []

    def pause(self) -> bool:
        self.calls.append("pause")
        self.paused = True
        return True

    def resume(self) -> bool:
        self.calls.append("resume")
        self.paused = False
        return True


class _TalkingClient(_Client):
    """A client whose agent answers the turn RPCs; it records listen() and set_mic()."""

    def __init__(self, start_code: int = 0) -> None:
        super().__init__()
        self.start_code = start_code
        self.calls: list[str] = []

    def listen(self, on: bool) -> None:
        self.calls.append(f"listen {on}")

    def set_mic(self, on: bool) -> None:
        self.calls.append(f"mic {on}")

    async def rpc(self, method: str, payload: str = "") -> RpcOutcome:
        self.calls.append(method)
        code = self.start_code if method == "start_turn" else 0
        if method == "end_turn":  # an empty turn, committed at once: no reply to wait for
            self.receive("ptt-agent/PA_1", turn=1, transcript="", release_to_final_ms=5)
        return RpcOutcome(method, 0.0, 0.01, code=code, response='{"turn": 1}')

    async def speak(self, pcm: Any) -> tuple[float, float]:
        return 0.0, 0.0

    async def silence(self, seconds: float) -> None:
        return None


async def test_a_client_hears_the_agents_audio_only_while_it_listens() -> None:
    client = RoomClient(Grant("ws://127.0.0.1:1", "t", "r", "me", "ptt-agent"))
    ear = _Ear()
    client._ears.add(ear)  # type: ignore[arg-type]
    client.listen(True)
    assert not ear.paused
    client.listen(False)
    assert ear.paused and ear.calls == ["resume", "pause"]
    await client.source.aclose()


@pytest.mark.parametrize("start_code", [0, 1503])
async def test_a_turn_listens_from_its_release_until_the_reply_is_measured(start_code: int) -> None:
    client = _TalkingClient(start_code)
    talker = Talker(client)  # type: ignore[arg-type]
    turn = await talker.press("", lead_ms=0, tail_ms=0)
    assert "listen True" not in client.calls  # nothing to hear while the user talks
    await talker.release(turn, expected=None)
    assert client.calls[-1] == "listen False"
    if start_code == 0:
        assert client.calls[-4:-1] == ["listen True", "end_turn", "mic False"]
    else:
        assert "listen True" not in client.calls
