"""Per-turn timings, published to the room on the `ptt.metrics` text topic.

A turn's reply goes through these stages after the release, each an instant on the
agent's monotonic clock and published as milliseconds after the release (`stages_ms`,
null until reached; docs/agent-metrics.md):

- `committed`: the turn's final transcript is committed (`release_to_final_ms`);
- `reply_text`: the reply's first text (the LLM's first token, from its metrics);
- `tts_first_chunk`: the TTS's first audio (its time to first byte, from its metrics);
- `first_frame`: the first reply frame handed to the room's audio output (the agent
  starts speaking; `release_to_first_audio_ms`);
- `playout`: that frame handed to WebRTC by the paced source (the agent's last step);
- `reply_done`: the reply has played out, or was interrupted.

`instants_ms` gives the same instants (and the turn's start, its STT stream ready and
its interim transcripts) on the agent's own monotonic clock in ms, for a page that
aligns them with its clock from the RPC round trips (the turn inspector).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_INTERIMS = 64


def _clock_ms(at: float | None) -> float | None:
    return None if at is None else round(at * 1000, 1)


def _ms(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    return round(max(0.0, end - start) * 1000, 1)


@dataclass
class TurnTimings:
    """Monotonic instants of one turn; `to_dict` gives the published durations."""

    turn: int
    owner: str
    pressed_at: float
    strategy: str = ""
    stt_ready_at: float | None = None
    released_at: float | None = None
    final_at: float | None = None
    reply_text_at: float | None = None
    tts_first_chunk_at: float | None = None
    first_audio_at: float | None = None  # the first frame handed to the room's output
    playout_at: float | None = None
    reply_done_at: float | None = None
    transcript: str = ""
    cancelled: bool = False
    preroll_ms: float = 0.0
    rpc_ms: dict[str, float] = field(default_factory=dict)
    interims: list[float] = field(default_factory=list)  # interim transcripts, monotonic

    def add_interim(self, at: float) -> None:
        if len(self.interims) < MAX_INTERIMS:
            self.interims.append(at)

    def record_rpc(self, method: str, started: float, ended: float) -> None:
        """How long the agent took to handle `method` (monotonic instants)."""
        self.rpc_ms[method] = _ms(started, ended) or 0.0

    def stages_ms(self) -> dict[str, float | None]:
        """Each stage of the reply in milliseconds after the release (None: not reached).

        A metrics event arrives after its step ended, so its start (now - duration) and
        the instants derived from it are late by the event's own delay. The TTS's first
        chunk is therefore capped at the first frame it produced: with a warm TTS the two
        are within a millisecond and the estimate could land after the frame."""
        first_chunk = self.tts_first_chunk_at
        if first_chunk is not None and self.first_audio_at is not None:
            first_chunk = min(first_chunk, self.first_audio_at)
        instants = {
            "committed": self.final_at,
            "reply_text": self.reply_text_at,
            "tts_first_chunk": first_chunk,
            "first_frame": self.first_audio_at,
            "playout": self.playout_at,
            "reply_done": self.reply_done_at,
        }
        return {name: _ms(self.released_at, at) for name, at in instants.items()}

    def instants_ms(self) -> dict[str, Any]:
        """Every instant of the turn on the agent's monotonic clock, ms (None: not yet)."""
        instants = {
            "start_turn": self.pressed_at,
            # a prewarmed stream was ready before the press: for this turn, at its start
            "stt_ready": None
            if self.stt_ready_at is None
            else max(self.stt_ready_at, self.pressed_at),
            "end_turn": self.released_at,
            "committed": self.final_at,
            "reply_text": self.reply_text_at,
            "tts_first_chunk": self.tts_first_chunk_at,
            "first_frame": self.first_audio_at,
            "playout": self.playout_at,
            "reply_done": self.reply_done_at,
        }
        out: dict[str, Any] = {name: _clock_ms(at) for name, at in instants.items()}
        out["interims"] = [_clock_ms(at) for at in self.interims]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "turn": self.turn,
            "owner": self.owner,
            "strategy": self.strategy,
            "cancelled": self.cancelled,
            "transcript": self.transcript,
            "press_to_stt_ready_ms": _ms(self.pressed_at, self.stt_ready_at),
            "release_to_final_ms": _ms(self.released_at, self.final_at),
            "release_to_first_audio_ms": _ms(self.released_at, self.first_audio_at),
            "stages_ms": self.stages_ms(),
            "preroll_ms": self.preroll_ms,
            "rpc_ms": dict(self.rpc_ms),
            "instants_ms": self.instants_ms(),
        }
