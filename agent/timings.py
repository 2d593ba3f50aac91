"""Per-turn timings, published to the room on the `ptt.metrics` text topic."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
    first_audio_at: float | None = None
    transcript: str = ""
    cancelled: bool = False
    preroll_ms: float = 0.0
    rpc_ms: dict[str, float] = field(default_factory=dict)

    def record_rpc(self, method: str, started: float, ended: float) -> None:
        """How long the agent took to handle `method` (monotonic instants)."""
        self.rpc_ms[method] = _ms(started, ended) or 0.0

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
            "preroll_ms": self.preroll_ms,
            "rpc_ms": dict(self.rpc_ms),
        }
