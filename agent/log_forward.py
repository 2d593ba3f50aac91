"""Forwards the agent's own WARNING+ log records to the room, so the console shows them.

Records go out on the `ptt.log` text topic as JSON {level, logger, message, time}
(a record with an exception gets its last line appended to the message);
the count of ERROR+ records is kept in the `ptt.errors` participant attribute.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

TOPIC_LOG = "ptt.log"
ATTR_ERRORS = "ptt.errors"
MAX_PENDING = 200

Publish = Callable[[str, str], Awaitable[None]]
SetAttributes = Callable[[dict[str, str]], Awaitable[None]]


class RoomLogForwarder(logging.Handler):
    """A logging handler that queues records for a task that publishes them."""

    def __init__(
        self,
        *,
        publish: Publish,
        set_attributes: SetAttributes,
        level: int = logging.WARNING,
        job_id: str | None = None,
    ) -> None:
        """`job_id`: forward only this job's records, for jobs sharing a process (thread
        executor): those emitted on this job's event-loop thread (this one) or carrying
        `job_id` in their extras. None: every record of the process."""
        super().__init__(level)
        self._job_id = job_id
        self._thread = threading.get_ident()
        self._publish = publish
        self._set_attributes = set_attributes
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(MAX_PENDING)
        self.errors = 0
        self.dropped = 0
        self._send_atask = asyncio.create_task(self._send_loop(), name="RoomLogForwarder")

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "livekit" or record.name.startswith("livekit.rtc"):
            return  # the transport we publish with: forwarding its records could loop
        if not self._owns(record):
            return
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            # the page shows one line: the exception itself, not the traceback
            exc = traceback.format_exception_only(record.exc_info[1])[-1].strip()
            message = f"{message}: {exc}"
        entry = {
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message[:2000],
            "time": time.time(),
        }
        if record.levelno >= logging.ERROR:
            self.errors += 1
            entry["errors"] = self.errors
        self._loop.call_soon_threadsafe(self._enqueue, entry)

    def _owns(self, record: logging.LogRecord) -> bool:
        if self._job_id is None:
            return True
        return record.thread == self._thread or getattr(record, "job_id", None) == self._job_id

    def _enqueue(self, entry: dict[str, Any]) -> None:
        try:
            self._queue.put_nowait(entry)
        except asyncio.QueueFull:
            self.dropped += 1

    async def _send_loop(self) -> None:
        while True:
            entry = await self._queue.get()
            try:
                await self._publish(TOPIC_LOG, json.dumps(entry))
                if "errors" in entry:
                    await self._set_attributes({ATTR_ERRORS: str(entry["errors"])})
            except Exception:  # the room is gone or closing: records stay in the local log
                pass

    async def aclose(self) -> None:
        """Stop forwarding; records still queued are dropped (they are in the local log)."""
        self._send_atask.cancel()
        try:
            await self._send_atask
        except asyncio.CancelledError:
            pass
