"""The package logger and a formatter that prints structured ``extra={...}`` fields."""

from __future__ import annotations

import logging

logger = logging.getLogger("stt_service")

# Attributes every LogRecord has; anything else on a record came from ``extra={...}``.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class KeyValueFormatter(logging.Formatter):
    """Format a record as the usual line followed by its extra fields as ``key=value``."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}
        if not extras:
            return line
        return line + " " + " ".join(f"{k}={v!r}" for k, v in sorted(extras.items()))


def configure_logging(level: str = "INFO") -> None:
    """Log to stderr with extras shown; keep uvicorn's own chatter at WARNING."""
    handler = logging.StreamHandler()
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).setLevel(logging.WARNING)
