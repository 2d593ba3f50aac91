"""STT service configuration: defaults, environment variables, validation.

``Settings.from_env()`` is the only place that reads the environment; the command line
(``python -m stt_service``) overrides it field by field.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.config import Config

VOCABULARIES = ("commands", "free")


class ConfigError(Exception):
    """The configuration is unusable; the message says what to change."""


def default_workers() -> int:
    """One decoder process per CPU."""
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Settings:
    """Everything the service needs. Environment variables in brackets.

    host [STT_HOST], port [STT_PORT], vocabulary [STT_VOCABULARY]: commands|free,
    grammar [STT_GRAMMAR]: a JSGF file replacing the command grammar,
    api_key [STT_API_KEY]: when set, clients must send ``Authorization: Token <key>``,
    idle_timeout [STT_IDLE_TIMEOUT]: seconds without audio or a control message,
    max_frame_bytes [STT_MAX_FRAME_BYTES], workers [STT_WORKERS]: decoder processes
    (0 decodes in a thread of the server process),
    debug_hold_results_ms [STT_DEBUG_HOLD_RESULTS_MS]: a fault-injection knob for chaos
    tests, off by default: every result of a stream is held back until its Finalize and
    sent that many milliseconds after it (no interim results before the release), so a
    test can kill the service between a turn's release and its final,
    decode_ahead [STT_DECODE_AHEAD, true]: decode an utterance's final in the pause after
    its speech, before the Finalize that asks for it (recognizer.py); false for
    before/after measurements,
    shed_interims_after_ms [STT_SHED_INTERIMS_AFTER_MS, 250]: when a stream's audio has
    waited this long for its decode (the service is behind real time), the utterance's
    interim results are dropped so its final comes sooner (session.py); -1: never.
    """

    host: str = "127.0.0.1"
    port: int = 8790
    vocabulary: str = "commands"
    grammar: Path | None = None
    api_key: str | None = None
    idle_timeout: float = 10.0
    max_frame_bytes: int = 1 << 20
    workers: int = field(default_factory=default_workers)
    interim_interval_ms: int = 200
    min_endpointing_ms: int = 200
    vad_threshold_db: float = -45.0
    max_utterance_ms: int = 30000
    log_level: str = "INFO"
    debug_hold_results_ms: int | None = None
    decode_ahead: bool = True
    shed_interims_after_ms: int = 250

    def __post_init__(self) -> None:
        if self.vocabulary not in VOCABULARIES:
            raise ConfigError(
                f"vocabulary {self.vocabulary!r} is not supported: use commands or free"
            )
        if self.grammar is not None and self.vocabulary != "commands":
            raise ConfigError("a grammar file replaces the command grammar: drop --vocabulary free")
        if self.grammar is not None and not self.grammar.is_file():
            raise ConfigError(f"grammar file {self.grammar} does not exist")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port {self.port} is out of range")
        if self.idle_timeout <= 0:
            raise ConfigError("idle timeout must be positive")
        if self.max_frame_bytes < 1024:
            raise ConfigError("max frame size must be at least 1024 bytes")
        if self.workers < 0:
            raise ConfigError("workers must be 0 (in-process) or more")
        if self.debug_hold_results_ms is not None and self.debug_hold_results_ms < 0:
            raise ConfigError("STT_DEBUG_HOLD_RESULTS_MS must be 0 or more")
        if self.shed_interims_after_ms < -1:
            raise ConfigError("STT_SHED_INTERIMS_AFTER_MS must be -1 (never) or 0 or more")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``STT_*`` variables, falling back to the defaults above."""
        env = Config(environ=dict(os.environ if environ is None else environ))
        try:
            grammar = env("STT_GRAMMAR", default="")
            return cls(
                host=env("STT_HOST", default=cls.host),
                port=env("STT_PORT", cast=int, default=cls.port),
                vocabulary=env("STT_VOCABULARY", default=cls.vocabulary),
                grammar=Path(grammar) if grammar else None,
                api_key=env("STT_API_KEY", default="") or None,
                idle_timeout=env("STT_IDLE_TIMEOUT", cast=float, default=cls.idle_timeout),
                max_frame_bytes=env("STT_MAX_FRAME_BYTES", cast=int, default=cls.max_frame_bytes),
                workers=env("STT_WORKERS", cast=int, default=default_workers()),
                log_level=env("STT_LOG_LEVEL", default=cls.log_level),
                debug_hold_results_ms=env("STT_DEBUG_HOLD_RESULTS_MS", cast=int, default=None),
                decode_ahead=env("STT_DECODE_AHEAD", cast=bool, default=cls.decode_ahead),
                shed_interims_after_ms=env(
                    "STT_SHED_INTERIMS_AFTER_MS", cast=int, default=cls.shed_interims_after_ms
                ),
            )
        except ValueError as e:  # starlette's cast errors
            raise ConfigError(str(e)) from e

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (validated again); ``None`` values are ignored."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})
