"""The AgentSession every PTT job runs (and the in-process tests drive)."""

from __future__ import annotations

from collections import deque
from typing import Any

from livekit.agents import AgentSession, stt

from .responder import Responder
from .tts_espeak import EspeakTTS


def ptt_session(speech_to_text: stt.STT) -> AgentSession[Any]:
    """Manual turns, the offline responder and espeak-ng voice, no VAD.

    Closing the session does not wait for a final transcript: in PTT only `end_turn` asks
    for one. (The framework's default waits up to 2 s on every close, for a final that
    nothing requested, which delays each job's exit.)

    No endpointing delay: the release ends the turn. The framework's default
    (`min_delay` 0.5 s after the last speech it saw) applies in manual mode too, and was
    most of the time between the committed transcript and the reply (docs/latency.md).
    """
    return AgentSession(
        stt=speech_to_text,
        llm=Responder(),
        tts=EspeakTTS(),
        vad=None,
        turn_handling={"turn_detection": "manual", "endpointing": {"min_delay": 0.0}},
        session_close_transcript_timeout=0.0,
    )


# livekit-agents keeps every event a session emits (each turn's metrics, every interim
# transcript, state changes) for the session report built when the job ends, and never
# drops one: ~43 KB a turn in a 1,000-cycle soak (docs/capacity.md). The report keeps
# the newest ones.
RECORDED_EVENTS_KEPT = 500


def keep_recent_events(session: AgentSession[Any], keep: int = RECORDED_EVENTS_KEPT) -> None:
    """Bound the session's event record (after `start()`, which makes a new one)."""
    session._recorded_events = deque(session._recorded_events, maxlen=keep)  # type: ignore[assignment]
