"""One ``/v1/listen`` websocket stream: receive audio and control, send Deepgram messages.

Two halves: this task reads the socket (idle timeout, size limit, control parsing) and
queues work; ``_process_atask`` feeds the work to the stream's recognizer and sends the
results. Audio that arrives while a decode call is in flight is sent with the next call
in one piece, so a busy service makes fewer, larger calls instead of falling behind.
When that audio has waited longer than ``STT_SHED_INTERIMS_AFTER_MS`` (decoding is
behind real time), the utterance's interim results are dropped: its streaming decoder
is about half of its decoding, so a backlog clears faster and the final, which a
push-to-talk release waits for, comes sooner. Finals are never dropped. A Finalize that
arrives moves the stream's waiting decode call ahead of other streams' (pool.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections import deque
from datetime import UTC, datetime
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from .config import Settings
from .events import Event, SpeechStartedEvent, TranscriptEvent, UtteranceEndEvent
from .log import logger
from .pool import PoolError, StreamHandle
from .protocol import (
    CLOSE_NORMAL,
    CLOSE_SERVER_ERROR,
    CLOSE_TOO_BIG,
    Control,
    ControlError,
    ModelInfo,
    StreamParams,
    error_message,
    metadata_message,
    parse_control,
    results_message,
    speech_started_message,
    utterance_end_message,
)
from .recognizer import RecognizerOptions


def recognizer_options(params: StreamParams, settings: Settings) -> RecognizerOptions:
    """A stream's recognizer options: the client's parameters within the server's limits."""
    return RecognizerOptions(
        sample_rate=params.sample_rate,
        interim_results=params.interim_results,
        endpointing_ms=params.endpointing_ms,
        utterance_end_ms=params.utterance_end_ms,
        vad_events=params.vad_events,
        interim_interval_ms=settings.interim_interval_ms,
        min_endpointing_ms=settings.min_endpointing_ms,
        vad_threshold_db=settings.vad_threshold_db,
        max_utterance_ms=settings.max_utterance_ms,
        decode_ahead=settings.decode_ahead,
    )


_BACKLOG_SECONDS = 5.0  # audio queued for decoding before the reader stops reading
_CLOSE_REQUESTED = "close requested"
_ASKS_FOR_A_FINAL = (Control.FINALIZE, Control.CLOSE_STREAM)


def idle_reason(timeout: float) -> str:
    """Close reason of an idle stream, after Deepgram's NET-0001."""
    return f"NET-0001: no audio data or text message received within the {timeout:g} s timeout"


def too_big_reason(size: int, limit: int) -> str:
    """Close reason of an oversized frame."""
    return f"DATA-0001: frame of {size} bytes exceeds the {limit}-byte limit"


class Session:
    """Serve one accepted websocket until CloseStream, a limit, or the client leaves."""

    def __init__(
        self,
        websocket: WebSocket,
        *,
        settings: Settings,
        params: StreamParams,
        request_id: str,
        model: ModelInfo,
    ) -> None:
        self._ws = websocket
        self._settings = settings
        self._params = params
        self._request_id = request_id
        self._model = model
        self._created = datetime.now(UTC)
        self._sha256 = hashlib.sha256()
        self._audio_bytes = 0
        self._log_extra: dict[str, Any] = {"request_id": request_id}
        self._inbox: deque[bytes | Control] = deque()
        self._inbox_bytes = 0
        self._audio_since: float | None = None  # when the oldest queued audio arrived
        self._handle: StreamHandle | None = None
        self._shed_pushes = 0  # decode calls sent without interims (decoding was behind)
        shed_ms = settings.shed_interims_after_ms
        self._shed_after = None if shed_ms < 0 else shed_ms / 1000
        self._backlog_limit = int(_BACKLOG_SECONDS * params.sample_rate * 2)
        self._work = asyncio.Event()  # set when the inbox has items
        self._room = asyncio.Event()  # set when the backlog is under its limit
        self._room.set()
        self._process_atask: asyncio.Task[str] | None = None
        self._held: list[Event] | None = (  # STT_DEBUG_HOLD_RESULTS_MS: results held back
            [] if settings.debug_hold_results_ms is not None else None
        )

    async def run(self, handle: StreamHandle) -> None:
        """Accept, serve, and always free the stream's recognizer."""
        try:
            await self._ws.accept(headers=[(b"dg-request-id", self._request_id.encode())])
            logger.info(
                "stream opened",
                extra={
                    **self._log_extra,
                    "sample_rate": self._params.sample_rate,
                    "interim_results": self._params.interim_results,
                    "endpointing": self._params.endpointing_ms,
                },
            )
            self._handle = handle
            self._process_atask = asyncio.create_task(self._process(handle))
            outcome = await self._read()
            if outcome == _CLOSE_REQUESTED or self._process_atask.done():
                outcome = await self._process_atask
        except WebSocketDisconnect:
            outcome = "client disconnected"
        finally:
            await self.aclose()
            handle.release()
        logger.info(
            "stream closed",
            extra={
                **self._log_extra,
                "outcome": outcome,
                "audio_seconds": self._audio_seconds,
                "pushes_without_interims": self._shed_pushes,
            },
        )

    async def aclose(self) -> None:
        """Stop processing (a no-op once the processing task has finished)."""
        task = self._process_atask
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])  # unlike `await task`, keeps our own cancellation
            if not task.cancelled() and task.exception() is not None:
                logger.error(  # a bug: processing handles the expected failures itself
                    "stream processing failed", exc_info=task.exception(), extra=self._log_extra
                )

    @property
    def _audio_seconds(self) -> float:
        return round(self._audio_bytes / 2 / self._params.sample_rate, 3)

    async def _read(self) -> str:
        """Receive until CloseStream or the end of the connection; return how it ended."""
        loop = asyncio.get_running_loop()
        timeout = self._settings.idle_timeout
        limit = self._settings.max_frame_bytes
        deadline = loop.time() + timeout
        assert self._process_atask is not None
        while True:
            if not self._room.is_set():  # decoding is behind: stop reading for a while
                await self._room.wait()
                deadline = loop.time() + timeout
            if self._process_atask.done():
                return "processing ended"
            try:
                async with asyncio.timeout_at(deadline):
                    message = await self._ws.receive()
            except TimeoutError:
                await self._close(CLOSE_SERVER_ERROR, idle_reason(timeout))
                return "idle timeout"
            if message["type"] == "websocket.disconnect":
                return "client disconnected"
            data: bytes | None = message.get("bytes")
            text: str | None = message.get("text")
            size = len(data) if data is not None else len((text or "").encode())
            if size > limit:
                await self._close(CLOSE_TOO_BIG, too_big_reason(size, limit))
                return "frame too big"
            if data is not None:
                if data:
                    deadline = loop.time() + timeout
                    self._sha256.update(data)
                    self._audio_bytes += len(data)
                    self._enqueue(data)
                continue
            try:
                control = parse_control(text or "")
            except ControlError as e:
                extra = {**self._log_extra, "variant": e.variant}
                logger.info("malformed control message", extra=extra)
                await self._send(error_message(e.variant, e.description))
                continue
            deadline = loop.time() + timeout
            logger.debug("control message", extra={**self._log_extra, "control": control.value})
            if control is not Control.KEEP_ALIVE:
                self._enqueue(control)
            if control is Control.CLOSE_STREAM:
                return _CLOSE_REQUESTED

    def _enqueue(self, item: bytes | Control) -> None:
        self._inbox.append(item)
        if item in _ASKS_FOR_A_FINAL and self._handle is not None:
            self._handle.hurry()
        if isinstance(item, bytes):
            if self._audio_since is None:
                self._audio_since = asyncio.get_running_loop().time()
            self._inbox_bytes += len(item)
            if self._inbox_bytes > self._backlog_limit:
                self._room.clear()
        self._work.set()

    def _dequeue(self) -> tuple[bytes | Control, float]:
        """The next item (queued audio merged into one), and how long it waited, s."""
        item = self._inbox.popleft()
        waited = 0.0
        if isinstance(item, bytes):
            # merge the audio queued behind it into one decode call
            parts = [item]
            while self._inbox and isinstance(self._inbox[0], bytes):
                parts.append(self._inbox.popleft())  # type: ignore[arg-type]
            item = b"".join(parts)
            self._inbox_bytes -= len(item)
            if self._inbox_bytes <= self._backlog_limit:
                self._room.set()
            now = asyncio.get_running_loop().time()
            waited = now - (self._audio_since or now)
            # audio still queued is behind a control message: its wait counts from now
            self._audio_since = now if self._inbox_bytes else None
        if not self._inbox:
            self._work.clear()
        return item, waited

    async def _process(self, handle: StreamHandle) -> str:
        """Decode queued audio and controls in order; return how the stream ended."""
        try:
            while True:
                await self._work.wait()
                item, waited = self._dequeue()
                if isinstance(item, bytes):
                    interims = self._shed_after is None or waited <= self._shed_after
                    self._shed_pushes += not interims
                    # a final is asked for next: the merge stopped at its control message
                    urgent = bool(self._inbox) and self._inbox[0] in _ASKS_FOR_A_FINAL
                    events = await handle.push(item, interims=interims, urgent=urgent)
                    await self._send_events(events)
                elif item is Control.FINALIZE:
                    await self._send_events(await handle.finalize(), finalize=True)
                elif item is Control.CLOSE_STREAM:
                    events, _ = await handle.close()
                    await self._send_events(events)
                    await self._send(self._metadata())
                    await self._close(CLOSE_NORMAL, "")
                    return "closed by client"
        except PoolError as e:
            await self._close(CLOSE_SERVER_ERROR, "internal error: decoder unavailable")
            return f"decoder unavailable: {e}"
        except WebSocketDisconnect:
            return "client disconnected"
        finally:
            self._room.set()  # never leave the reader waiting for room

    def _metadata(self) -> dict[str, Any]:
        return metadata_message(
            request_id=self._request_id,
            created=self._created,
            duration=self._audio_bytes / 2 / self._params.sample_rate,
            sha256=self._sha256.hexdigest(),
            model=self._model,
        )

    async def _send_events(self, events: list[Event], *, finalize: bool = False) -> None:
        if self._held is not None:  # fault injection: everything waits for the Finalize
            self._held.extend(events)
            if not finalize:
                return
            events, self._held = self._held, []
            hold_ms = self._settings.debug_hold_results_ms or 0
            logger.info("debug: holding results", extra={**self._log_extra, "hold_ms": hold_ms})
            await asyncio.sleep(hold_ms / 1000)
        for event in events:
            if isinstance(event, TranscriptEvent):
                msg = results_message(event, request_id=self._request_id, model=self._model)
            elif isinstance(event, SpeechStartedEvent):
                msg = speech_started_message(event)
            elif isinstance(event, UtteranceEndEvent):
                msg = utterance_end_message(event)
            else:  # pragma: no cover - exhaustive over Event
                raise TypeError(f"unknown event {event!r}")
            await self._send(msg)

    async def _send(self, message: dict[str, Any]) -> None:
        await self._ws.send_text(json.dumps(message))

    async def _close(self, code: int, reason: str) -> None:
        logger.info("closing stream", extra={**self._log_extra, "code": code, "reason": reason})
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            await self._ws.close(code=code, reason=reason)
