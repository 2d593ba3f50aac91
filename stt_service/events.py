"""What a recognizer reports: plain, picklable data, independent of the wire format."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word; times in seconds from the start of the stream."""

    word: str
    start: float
    end: float
    confidence: float


@dataclass(frozen=True, slots=True)
class TranscriptEvent:
    """An interim or final transcript of the audio in ``[start, start + duration]``."""

    start: float
    duration: float
    is_final: bool
    speech_final: bool
    from_finalize: bool
    text: str
    confidence: float
    words: tuple[Word, ...]


@dataclass(frozen=True, slots=True)
class SpeechStartedEvent:
    """The VAD saw speech begin at ``timestamp`` seconds."""

    timestamp: float


@dataclass(frozen=True, slots=True)
class UtteranceEndEvent:
    """``utterance_end_ms`` of silence followed the last transcribed word."""

    last_word_end: float


Event = TranscriptEvent | SpeechStartedEvent | UtteranceEndEvent
