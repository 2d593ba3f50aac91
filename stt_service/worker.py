"""Decoder worker: the recognizers of the streams assigned to one process.

These module-level functions are what the pool submits to a worker (a process, or a
thread of the server process when ``workers=0``). pocketsphinx holds the GIL while it
decodes, so separate processes are what lets streams decode in parallel.
"""

from __future__ import annotations

import os

from .engine import Engine, EngineSpec
from .events import Event
from .recognizer import Recognizer, RecognizerOptions

_engine: Engine | None = None
_streams: dict[str, Recognizer] = {}


def init(spec: EngineSpec) -> None:
    """Executor initializer: build the engine and prove it can make a decoder."""
    global _engine
    _engine = Engine(spec)
    _engine.new_decoder()


def ping() -> int:
    """Return the worker's pid (used to wait until a worker is up)."""
    return os.getpid()


def open_stream(stream_id: str, options: RecognizerOptions) -> None:
    """Create the recognizer of a new stream."""
    if _engine is None:
        raise RuntimeError("worker not initialised")
    _streams[stream_id] = Recognizer(_engine, options)


def push(stream_id: str, data: bytes, interims: bool = True) -> list[Event]:
    """Feed audio to a stream's recognizer (``interims=False``: it is behind, drop them)."""
    return _streams[stream_id].push(data, interims=interims)


def finalize(stream_id: str) -> list[Event]:
    """Finalize a stream's current utterance (the Finalize message)."""
    return _streams[stream_id].finalize()


def close_stream(stream_id: str) -> tuple[list[Event], float]:
    """Final events of a stream (CloseStream) and its audio duration; frees it."""
    recognizer = _streams.pop(stream_id)
    return recognizer.close(), recognizer.audio_seconds


def drop(stream_id: str) -> None:
    """Free a stream's recognizer, whatever state it is in (idempotent)."""
    recognizer = _streams.pop(stream_id, None)
    if recognizer is not None:
        recognizer.discard()


def stream_count() -> int:
    """How many streams this worker holds (tests check nothing leaks)."""
    return len(_streams)
