"""InputGate: room_io's audio stream shut while the listened microphone is muted and no
turn is open, opened again on unmute (a stand-in for room_io's input records the calls)."""

from __future__ import annotations

from typing import Any

import pytest
from livekit import rtc

from agent.input_gate import InputGate

pytestmark = pytest.mark.unit


class Input:
    def __init__(self) -> None:
        self._participant_identity = "user"
        self._publication: object | None = object()
        self.calls: list[str] = []

    def _close_stream(self) -> None:
        self.calls.append("close")
        self._publication = None

    def _on_track_available(self, track: Any, pub: Any, participant: Any) -> bool:
        self.calls.append("open")
        self._publication = pub
        return True


class Pub(rtc.RemoteTrackPublication):
    def __init__(self, *, muted: bool = True, kind: Any = rtc.TrackKind.KIND_AUDIO) -> None:
        self._kind, self._muted = kind, muted

    kind = property(lambda self: self._kind)  # type: ignore[assignment]
    muted = property(lambda self: self._muted)  # type: ignore[assignment]
    track = property(lambda self: object())  # type: ignore[assignment]


class Person(rtc.RemoteParticipant):
    def __init__(self, identity: str) -> None:
        self._who = identity

    identity = property(lambda self: self._who)  # type: ignore[assignment]


def _gate(turn_open: bool = False) -> tuple[InputGate, Input]:
    room_input = Input()
    return InputGate(room_input, lambda: turn_open), room_input


def test_a_muted_microphone_shuts_the_stream_and_unmuting_opens_it() -> None:
    gate, room_input = _gate()
    gate.muted(Person("user"), Pub())
    gate.unmuted(Person("user"), Pub(muted=False))
    assert room_input.calls == ["close", "open"]


def test_a_microphone_published_muted_starts_shut() -> None:
    gate, room_input = _gate()
    gate.subscribed(Pub(muted=False), Person("user"))
    gate.subscribed(Pub(muted=True), Person("user"))
    assert room_input.calls == ["close"]


def test_an_open_turn_others_and_other_tracks_keep_the_stream() -> None:
    gate, room_input = _gate(turn_open=True)
    gate.muted(Person("user"), Pub())  # the turn is still open: its audio must arrive
    gate2, room_input2 = _gate()
    gate2.muted(Person("someone-else"), Pub())
    gate2.muted(Person("user"), Pub(kind=rtc.TrackKind.KIND_VIDEO))
    assert room_input.calls == [] and room_input2.calls == []
