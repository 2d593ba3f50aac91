"""What the agent heard: the exact audio each of its last turns fed the STT.

A turn's recording holds the frames `TurnStream` sent the STT, in order: the replayed
pre-roll first, then the turn's live audio up to its flush. It is kept for the last
`keep` turns (`PTT_TURN_AUDIO_KEEP`, default 8), as 16-bit PCM, and handed out as a WAV
file (the page plays it with `decodeAudioData` and draws its waveform beside its own
recording of the microphone).

Instants are on the agent's monotonic clock, in ms, as in `ptt.metrics` `instants_ms`.
"""

from __future__ import annotations

import json
import struct
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata

from livekit import rtc

from .errors import InvalidPayload, TurnEvicted, TurnUnknown

TOPIC_TURN_AUDIO = "ptt.turn_audio"  # byte streams: a turn's audio as the STT got it (WAV)
ATTR_VERSIONS = "ptt.versions"  # JSON: what the agent runs on (the session report names it)
DEFAULT_KEEP = 8
MAX_TURN_SECONDS = 120  # a turn longer than this keeps its first two minutes


@dataclass
class TurnAudio:
    turn: int
    sample_rate: int = 0
    channels: int = 0
    pcm: bytearray = field(default_factory=bytearray)
    first_frame_at: float | None = None  # when the first frame (pre-roll) was fed
    last_frame_at: float | None = None
    preroll_s: float = 0.0
    truncated: bool = False

    @property
    def seconds(self) -> float:
        if not self.sample_rate or not self.channels:
            return 0.0
        return len(self.pcm) / 2 / self.channels / self.sample_rate

    def wav(self) -> bytes:
        """The recording as a WAV file (PCM s16le)."""
        rate, channels = self.sample_rate or 16000, self.channels or 1
        data = bytes(self.pcm)
        header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
        header += b"fmt " + struct.pack(
            "<IHHIIHH", 16, 1, channels, rate, rate * channels * 2, channels * 2, 16
        )
        return header + b"data" + struct.pack("<I", len(data)) + data

    def describe(self) -> dict[str, object]:
        """What the page needs besides the samples (times in agent-clock ms)."""
        return {
            "turn": self.turn,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "seconds": round(self.seconds, 3),
            "preroll_ms": round(self.preroll_s * 1000, 1),
            "first_frame_ms": _ms(self.first_frame_at),
            "last_frame_ms": _ms(self.last_frame_at),
            "truncated": self.truncated,
        }


def agent_versions() -> str:
    """The `ptt.versions` attribute: this console's agent code and the SDKs under it."""
    found = {}
    for package in ("ptt-console", "livekit-agents", "livekit"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "unknown"
    return json.dumps(found, separators=(",", ":"))


def _ms(at: float | None) -> float | None:
    return None if at is None else round(at * 1000, 1)


class TurnAudioStore:
    """The recordings of the last `keep` turns; the newest one is being recorded."""

    def __init__(self, keep: int = DEFAULT_KEEP, clock: Callable[[], float] = time.monotonic):
        if keep < 1:
            raise ValueError("keep must be 1 or more")
        self._keep = keep
        self._clock = clock
        self._turns: OrderedDict[int, TurnAudio] = OrderedDict()
        self._current: TurnAudio | None = None
        self._evicted_upto = 0  # every turn number up to this one was evicted

    @property
    def keep(self) -> int:
        return self._keep

    def start(self, turn: int) -> None:
        """Turn `turn` begins: the frames fed from now on are its own."""
        self._current = TurnAudio(turn=turn)
        self._turns[turn] = self._current
        self._turns.move_to_end(turn)
        while len(self._turns) > self._keep:
            old, _ = self._turns.popitem(last=False)
            self._evicted_upto = max(self._evicted_upto, old)

    def stop(self) -> None:
        """The current turn's audio is complete (its flush was sent, or it was cancelled)."""
        self._current = None

    def fed(self, frame: rtc.AudioFrame, *, preroll: bool = False) -> None:
        """A frame the current turn fed the STT."""
        rec = self._current
        if rec is None:
            return
        now = self._clock()
        if rec.first_frame_at is None:
            rec.first_frame_at = now
            rec.sample_rate, rec.channels = frame.sample_rate, frame.num_channels
        rec.last_frame_at = now
        if preroll:
            rec.preroll_s += frame.duration
        if rec.seconds + frame.duration > MAX_TURN_SECONDS:
            rec.truncated = True
            return
        rec.pcm += bytes(frame.data.cast("B"))

    def get(self, turn: int) -> TurnAudio:
        """Turn `turn`'s recording; TurnEvicted or TurnUnknown when there is none."""
        rec = self._turns.get(turn)
        if rec is not None:
            return rec
        if 0 < turn <= self._evicted_upto:
            raise TurnEvicted(f"turn {turn} is no longer kept (the last {self._keep} are)")
        kept = list(self._turns)
        span = f"turns {kept[0]}-{kept[-1]} are kept" if kept else "no turn was recorded yet"
        raise TurnUnknown(f"no turn {turn}: {span}")


@dataclass
class TurnAudioAnswer:
    """What `get_turn_audio` sends (the WAV, on its own byte stream) and answers."""

    stream_id: str
    wav: bytes
    attributes: dict[str, str]
    response: str


def answer_turn_audio(
    store: TurnAudioStore, request: dict[str, object], *, still_heard: int | None = None
) -> TurnAudioAnswer:
    """The answer to `get_turn_audio` `request` ({"turn": N}); `still_heard`: the turn
    whose audio is still coming in (its answer says complete: false)."""
    turn = request.get("turn")
    if isinstance(turn, bool) or not isinstance(turn, int) or turn < 1:
        raise InvalidPayload('get_turn_audio needs {"turn": N}, N a turn number ≥ 1')
    rec = store.get(turn)
    stream_id = f"ptt-turn-audio-{turn}-{uuid.uuid4().hex[:12]}"
    wav = rec.wav()
    response = {"stream_id": stream_id, "bytes": len(wav), "complete": still_heard != turn}
    return TurnAudioAnswer(
        stream_id=stream_id,
        wav=wav,
        attributes={"ptt.turn": str(turn)},
        response=json.dumps({**response, **rec.describe()}),
    )
