"""The agent's output into the room: its audio track on a PacedAudioSource (silent
between replies), and its transcripts on text streams only.

livekit-agents 1.8's room output (`_ParticipantAudioOutput`) builds its own
`rtc.AudioSource(queue_size_ms=200)`, which keeps the published track Opus-encoding
silence for the whole session (see paced_source.py), and RoomIO offers no hook for the
source. `use_paced_room_output()` makes RoomIO build this subclass instead, which swaps
the source before the track is published; everything else is the framework's output.

`stream_transcripts_only()`: besides the `lk.transcription` text streams, the framework
publishes every transcript chunk (each interim of the user's, each word of a reply) again
as a deprecated `rtc.Transcription` packet while any participant in the room has
`client_protocol` < 3. The console's clients read the streams only: the page
(livekit-client 2.23 advertises 3) and the headless client, whose Python SDK advertises
nothing, so in every load test each word went out twice, an FFI request and an SFU
packet each, and the generator parsed what it ignored.
"""

from __future__ import annotations

from typing import Any

from livekit import rtc
from livekit.agents.voice.room_io import _output, room_io

from .paced_source import PacedAudioSource

OUTPUT_QUEUE_MS = 200  # as the framework's own source


class PacedParticipantAudioOutput(_output._ParticipantAudioOutput):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        native = self._audio_source
        # never published: dispose its handle at once, which also ends its silence pump
        native._ffi_handle.dispose()
        self._audio_source = PacedAudioSource(  # type: ignore[assignment]
            native.sample_rate, native.num_channels, queue_size_ms=OUTPUT_QUEUE_MS
        )


def paced_source_of(output: Any) -> PacedAudioSource | None:
    """The paced source behind a session's audio output (the framework may wrap the
    room's output, e.g. to synchronise transcripts: follow `next_in_chain`)."""
    while output is not None:
        if isinstance(output, PacedParticipantAudioOutput):
            return output._audio_source  # type: ignore[return-value]
        output = getattr(output, "next_in_chain", None)
    return None


def use_paced_room_output() -> None:
    """RoomIO (in this process) publishes the agent's audio on a PacedAudioSource."""
    room_io._ParticipantAudioOutput = PacedParticipantAudioOutput  # type: ignore[misc]


def _no_legacy_reader(_room: rtc.Room) -> bool:
    return False


def stream_transcripts_only() -> None:
    """RoomIO (in this process) publishes no legacy `rtc.Transcription` packets."""
    _output._legacy_transcription_needed = _no_legacy_reader  # type: ignore[assignment]
