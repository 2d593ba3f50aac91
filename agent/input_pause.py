"""The agent takes the user's audio only while their microphone is open or a turn is.

The page and the headless client open the microphone at the press and mute it after the
release, so between turns the listened track is muted and its frames are silence. Every
stream room_io makes for the user's microphone is pausable (pausable_stream.py): it is
paused while the track is muted and no turn is open, and resumed

- at the unmute, in the FFI library's thread (the ledger), ahead of the speech behind it;
- at a turn's opening, whatever the mute state (a client that presses before unmuting).

Between those the pre-roll (preroll.py) holds the audio from the unmute on, as before.
Session 9's gate closed room_io's stream and opened another: the reader was replaced,
and the first words fell to the job's loop being late to the unmute. Here the reader and
room_io never notice; only the native stream stops.

Uses room_io internals of livekit-agents 1.8 (`_create_stream`, `_stream`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from livekit import rtc

from .pausable_stream import LEDGER, MuteLedger, PausableAudioStream

logger = logging.getLogger("ptt-agent.input")


class InputPause:
    """One job's policy over room_io's audio input (`audio_input`)."""

    def __init__(
        self, audio_input: Any, turn_open: Callable[[], bool], ledger: MuteLedger = LEDGER
    ) -> None:
        self._input = audio_input
        self._turn_open = turn_open
        self._ledger = ledger
        self.pauses = 0
        self.late_unmutes = 0  # turns that opened on a paused stream
        ledger.watch()
        make = audio_input._create_stream

        def _create_stream(track: rtc.RemoteTrack, participant: rtc.Participant) -> Any:
            stream = make(track, participant)
            if not isinstance(stream, rtc.AudioStream):
                return stream
            pausable = PausableAudioStream.adopt(stream)
            ledger.listen(pausable)
            self._settle(pausable, _published_muted(participant, track.sid))
            return pausable

        audio_input._create_stream = _create_stream
        current = getattr(audio_input, "_stream", None)
        if isinstance(current, rtc.AudioStream):  # made before this (at session start)
            ledger.listen(PausableAudioStream.adopt(current))

    def settle(self) -> None:
        """Pause the stream if its track is muted and no turn is open (on a mute, and
        when a turn closes)."""
        stream = self._stream()
        if stream is not None:
            pub = getattr(self._input, "_publication", None)
            self._settle(stream, bool(getattr(pub, "muted", False)))

    def turn_changed(self, opened: bool) -> None:
        stream = self._stream()
        if stream is None:
            return
        if opened:
            if stream.resume():
                self.late_unmutes += 1
                logger.info(
                    "input resumed by the turn: the microphone's unmute had not arrived",
                    extra={"late_unmutes": self.late_unmutes},
                )
            else:
                logger.debug(
                    "input open at the press",
                    extra={"open_ms": round((time.monotonic() - stream.resumed_at) * 1000, 1)},
                )
        else:
            self.settle()

    def _settle(self, stream: PausableAudioStream, published_muted: bool) -> None:
        if self._turn_open():
            return
        if self._ledger.pause_if_muted(stream, published_muted):
            self.pauses += 1

    def _stream(self) -> PausableAudioStream | None:
        stream = getattr(self._input, "_stream", None)
        return stream if isinstance(stream, PausableAudioStream) else None


def _published_muted(participant: rtc.Participant, track_sid: str) -> bool:
    pub = participant.track_publications.get(track_sid)
    return bool(pub is not None and pub.muted)
