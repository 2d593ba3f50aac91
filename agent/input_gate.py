"""The user's audio reaches the agent only while their microphone is open.

A subscribed track keeps delivering audio frames to Python while it is muted (20 a
second at 50 ms, through room_io into the pre-roll buffer): perf put two thirds of an
idle job's CPU there. In push-to-talk the page and the headless client open the
microphone at the press, so the agent closes room_io's audio stream when the listened
participant mutes with no turn open, and opens it again on unmute. The subscription
stays, so reopening is a local FFI call, not a negotiation. Uses room_io internals of
livekit-agents 1.8 (`_close_stream`, `_on_track_available`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from livekit import rtc

logger = logging.getLogger("ptt-agent.input")


class InputGate:
    def __init__(self, audio_input: Any, turn_open: Callable[[], bool]) -> None:
        self._input = audio_input
        self._turn_open = turn_open

    def muted(self, participant: rtc.Participant, pub: rtc.TrackPublication) -> None:
        if not self._ours(participant, pub) or self._turn_open():
            return
        if getattr(self._input, "_publication", None) is not None:
            self._input._close_stream()

    def unmuted(self, participant: rtc.Participant, pub: rtc.TrackPublication) -> None:
        if not self._ours(participant, pub) or not isinstance(participant, rtc.RemoteParticipant):
            return
        if isinstance(pub, rtc.RemoteTrackPublication) and pub.track is not None:
            self._input._on_track_available(pub.track, pub, participant)

    def subscribed(self, pub: rtc.RemoteTrackPublication, participant: rtc.Participant) -> None:
        """A microphone published muted (the page's and the headless client's) starts shut."""
        if pub.muted:
            self.muted(participant, pub)

    def _ours(self, participant: rtc.Participant, pub: rtc.TrackPublication) -> bool:
        # the participant room_io listens to (the first one, or the turn's owner)
        return (
            self._input is not None
            and participant.identity == getattr(self._input, "_participant_identity", None)
            and pub.kind == rtc.TrackKind.KIND_AUDIO
        )
