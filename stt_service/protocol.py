"""The Deepgram live-streaming wire format: query parameters, control and server messages.

Pure functions only. Field names follow Deepgram's ``/v1/listen`` websocket API, limited
to what ``livekit-plugins-deepgram`` sends and reads.
"""

from __future__ import annotations

import enum
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .events import SpeechStartedEvent, TranscriptEvent, UtteranceEndEvent

# Close codes (RFC 6455) and the reasons sent with them.
CLOSE_NORMAL = 1000  # after CloseStream: final results, Metadata, then close
CLOSE_POLICY = 1008  # query rejected, when the server cannot send an HTTP 400 at upgrade
CLOSE_TOO_BIG = 1009  # a frame above the size limit
CLOSE_SERVER_ERROR = 1011  # idle timeout (Deepgram's NET-0001) or an internal failure

MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 48000
DEFAULT_ENDPOINTING_MS = 10  # Deepgram's default
_LANGUAGE = re.compile(r"^en(-[A-Za-z]{2,3})?$")


class ParamError(ValueError):
    """A query parameter the service cannot honour; ``reason`` is shown to the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ControlError(ValueError):
    """A text message that is not a valid control message."""

    def __init__(self, variant: str, description: str) -> None:
        super().__init__(description)
        self.variant = variant
        self.description = description


class Control(enum.Enum):
    """Client control messages."""

    KEEP_ALIVE = "KeepAlive"
    FINALIZE = "Finalize"
    CLOSE_STREAM = "CloseStream"


@dataclass(frozen=True, slots=True)
class StreamParams:
    """The query parameters that matter; everything else is accepted and ignored."""

    sample_rate: int
    interim_results: bool = False
    endpointing_ms: int | None = DEFAULT_ENDPOINTING_MS  # None: endpointing=false
    utterance_end_ms: int | None = None
    vad_events: bool = False
    language: str = "en"


def parse_stream_params(query: Mapping[str, str]) -> StreamParams:
    """Validate the ``/v1/listen`` query string. Raises ParamError with a readable reason."""
    encoding = query.get("encoding")
    if encoding is None:
        raise ParamError("encoding is required: only encoding=linear16 (raw PCM16LE) is supported")
    if encoding.lower() != "linear16":
        raise ParamError(f"encoding={encoding} is not supported: use encoding=linear16")
    if "sample_rate" not in query:
        raise ParamError("sample_rate is required with encoding=linear16")
    sample_rate = _int(query, "sample_rate")
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise ParamError(
            f"sample_rate={sample_rate} is not supported: use {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE}"
        )
    if "channels" in query and _int(query, "channels") != 1:
        raise ParamError(f"channels={query['channels']} is not supported: only mono (channels=1)")
    language = query.get("language", "en")
    if not _LANGUAGE.match(language):
        raise ParamError(f"language={language} is not supported: English only (en, en-US, ...)")
    endpointing: int | None = DEFAULT_ENDPOINTING_MS
    raw = query.get("endpointing")
    if raw is not None:
        if raw.lower() == "false":
            endpointing = None
        elif raw.lower() == "true":
            endpointing = DEFAULT_ENDPOINTING_MS
        else:
            endpointing = _int(query, "endpointing", minimum=0)
    utterance_end = (
        _int(query, "utterance_end_ms", minimum=1) if "utterance_end_ms" in query else None
    )
    return StreamParams(
        sample_rate=sample_rate,
        interim_results=_bool(query, "interim_results"),
        endpointing_ms=endpointing,
        utterance_end_ms=utterance_end,
        vad_events=_bool(query, "vad_events"),
        language=language,
    )


def _int(query: Mapping[str, str], name: str, *, minimum: int | None = None) -> int:
    raw = query[name]
    try:
        value = int(raw)
    except ValueError:
        raise ParamError(f"{name}={raw} is not an integer") from None
    if minimum is not None and value < minimum:
        raise ParamError(f"{name}={raw} must be at least {minimum}")
    return value


def _bool(query: Mapping[str, str], name: str) -> bool:
    raw = query.get(name, "false").lower()
    if raw not in ("true", "false"):
        raise ParamError(f"{name}={query[name]} is not a boolean: use true or false")
    return raw == "true"


def parse_control(text: str) -> Control:
    """Parse a client text message. Raises ControlError for anything else."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise ControlError("INVALID_JSON", "text messages must be JSON objects") from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ControlError("INVALID_MESSAGE", 'control messages need a string "type"')
    try:
        return Control(data["type"])
    except ValueError:
        raise ControlError(
            "UNKNOWN_MESSAGE_TYPE",
            f"unknown message type {data['type']!r}: use KeepAlive, Finalize or CloseStream",
        ) from None


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What the service reports as its model in Results and Metadata."""

    name: str
    version: str
    arch: str = "pocketsphinx"

    @property
    def uuid(self) -> str:
        """A stable id derived from the name and version."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"stt_service/{self.name}/{self.version}"))


def results_message(event: TranscriptEvent, *, request_id: str, model: ModelInfo) -> dict[str, Any]:
    """A ``Results`` message for an interim or final transcript."""
    return {
        "type": "Results",
        "channel_index": [0, 1],
        "duration": event.duration,
        "start": event.start,
        "is_final": event.is_final,
        "speech_final": event.speech_final,
        "from_finalize": event.from_finalize,
        "channel": {
            "alternatives": [
                {
                    "transcript": event.text,
                    "confidence": event.confidence,
                    "words": [
                        {
                            "word": w.word,
                            "start": w.start,
                            "end": w.end,
                            "confidence": w.confidence,
                            "punctuated_word": w.word,
                        }
                        for w in event.words
                    ],
                }
            ]
        },
        "metadata": {
            "request_id": request_id,
            "model_info": {"name": model.name, "version": model.version, "arch": model.arch},
            "model_uuid": model.uuid,
        },
    }


def speech_started_message(event: SpeechStartedEvent) -> dict[str, Any]:
    """A ``SpeechStarted`` message (sent when the client asked for vad_events)."""
    return {"type": "SpeechStarted", "channel": [0, 1], "timestamp": event.timestamp}


def utterance_end_message(event: UtteranceEndEvent) -> dict[str, Any]:
    """An ``UtteranceEnd`` message (sent when the client set utterance_end_ms)."""
    return {"type": "UtteranceEnd", "channel": [0, 1], "last_word_end": event.last_word_end}


def metadata_message(
    *, request_id: str, created: datetime, duration: float, sha256: str, model: ModelInfo
) -> dict[str, Any]:
    """The ``Metadata`` message sent once, after the last results of a closed stream."""
    return {
        "type": "Metadata",
        "transaction_key": "deprecated",
        "request_id": request_id,
        "sha256": sha256,
        "created": created.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "duration": round(duration, 3),
        "channels": 1,
        "models": [model.uuid],
        "model_info": {
            model.uuid: {"name": model.name, "version": model.version, "arch": model.arch}
        },
    }


def error_message(variant: str, description: str) -> dict[str, Any]:
    """A Deepgram-style ``Error`` message; the connection stays open."""
    return {"type": "Error", "variant": variant, "description": description, "message": description}


def http_error_body(err_code: str, reason: str, request_id: str) -> dict[str, Any]:
    """The JSON body of an HTTP error at upgrade (Deepgram's ``err_code``/``err_msg``)."""
    return {"err_code": err_code, "err_msg": reason, "reason": reason, "request_id": request_id}
