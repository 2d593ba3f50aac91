"""``python -m stt_service``: run the offline Deepgram-compatible STT service."""

from __future__ import annotations

import argparse
import ipaddress
import signal
import sys
from pathlib import Path
from types import FrameType

from .config import VOCABULARIES, ConfigError, Settings
from .engine import EngineError, build_spec
from .log import configure_logging, logger


def parse_args(argv: list[str] | None, base: Settings) -> Settings:
    """Command-line flags over the environment's settings."""
    parser = argparse.ArgumentParser(
        prog="python -m stt_service",
        description="Offline speech-to-text speaking Deepgram's live websocket API.",
    )
    parser.add_argument("--host", help=f"bind address [STT_HOST, {base.host}]")
    parser.add_argument("--port", type=int, help=f"port, 0 for any [STT_PORT, {base.port}]")
    parser.add_argument(
        "--vocabulary", choices=VOCABULARIES, help=f"[STT_VOCABULARY, {base.vocabulary}]"
    )
    parser.add_argument(
        "--grammar", type=Path, help="JSGF file replacing the command grammar [STT_GRAMMAR]"
    )
    parser.add_argument("--api-key", help="require Authorization: Token <key> [STT_API_KEY]")
    parser.add_argument(
        "--idle-timeout", type=float, help=f"seconds [STT_IDLE_TIMEOUT, {base.idle_timeout:g}]"
    )
    parser.add_argument(
        "--workers", type=int, help=f"decoder processes, 0 in-process [STT_WORKERS, {base.workers}]"
    )
    parser.add_argument("--log-level", help=f"[STT_LOG_LEVEL, {base.log_level}]")
    args = parser.parse_args(argv)
    return base.replace(
        host=args.host,
        port=args.port,
        vocabulary=args.vocabulary,
        grammar=args.grammar,
        api_key=args.api_key,
        idle_timeout=args.idle_timeout,
        workers=args.workers,
        log_level=args.log_level,
    )


def main(argv: list[str] | None = None) -> int:
    """Validate the configuration and serve until SIGINT/SIGTERM."""
    try:
        settings = parse_args(argv, Settings.from_env())
        spec = build_spec(settings.vocabulary, settings.grammar)  # type: ignore[arg-type]
    except (ConfigError, EngineError) as e:
        print(f"stt_service: {e}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    from .app import build_server  # after logging is set up

    logger.debug("configuration", extra={"vocabulary": spec.name, "workers": settings.workers})
    if not _is_loopback(settings.host) and not settings.api_key:
        logger.warning(
            "listening beyond this machine without an API key: set STT_API_KEY",
            extra={"host": settings.host},
        )
    server = build_server(settings, spec=spec)
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal; with
    # this handler in place that ends in a normal exit (finalizers run, exit code 0).
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stopped)
    try:
        server.run()
    except _Stopped:
        pass
    return 0 if server.started else 1


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


class _Stopped(Exception):
    """Raised by the re-raised stop signal once the server has shut down."""


def _stopped(signum: int, frame: FrameType | None) -> None:
    logger.info("STT service stopped", extra={"signal": signal.Signals(signum).name})
    raise _Stopped


if __name__ == "__main__":
    sys.exit(main())
