"""One ``/v1/listen`` websocket stream: receive audio and control, send Deepgram messages."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from .config import Settings
from .events import Event, SpeechStartedEvent, TranscriptEvent, UtteranceEndEvent
from .log import logger
from .pool import DecoderPool, PoolError, StreamHandle
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
    )


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
        pool: DecoderPool,
        params: StreamParams,
        request_id: str,
        model: ModelInfo,
    ) -> None:
        self._ws = websocket
        self._settings = settings
        self._pool = pool
        self._params = params
        self._request_id = request_id
        self._model = model
        self._created = datetime.now(UTC)
        self._sha256 = hashlib.sha256()
        self._audio_bytes = 0
        self._log_extra: dict[str, Any] = {"request_id": request_id}

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
            outcome = await self._serve(handle)
        except WebSocketDisconnect:
            outcome = "client disconnected"
        except PoolError as e:
            outcome = f"decoder unavailable: {e}"
            await self._close(CLOSE_SERVER_ERROR, "internal error: decoder unavailable")
        finally:
            handle.release()
        logger.info(
            "stream closed",
            extra={
                **self._log_extra,
                "outcome": outcome,
                "audio_seconds": round(self._audio_seconds, 3),
            },
        )

    @property
    def _audio_seconds(self) -> float:
        return self._audio_bytes / 2 / self._params.sample_rate

    async def _serve(self, handle: StreamHandle) -> str:
        """The receive loop; returns how the stream ended."""
        loop = asyncio.get_running_loop()
        timeout = self._settings.idle_timeout
        limit = self._settings.max_frame_bytes
        deadline = loop.time() + timeout
        while True:
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
                    await self._send_events(await handle.push(data))
                continue
            try:
                control = parse_control(text or "")
            except ControlError as e:
                logger.info(
                    "malformed control message", extra={**self._log_extra, "variant": e.variant}
                )
                await self._send(error_message(e.variant, e.description))
                continue
            deadline = loop.time() + timeout
            logger.debug("control message", extra={**self._log_extra, "control": control.value})
            if control is Control.FINALIZE:
                await self._send_events(await handle.finalize())
            elif control is Control.CLOSE_STREAM:
                events, _ = await handle.close()
                await self._send_events(events)
                await self._send(self._metadata())
                await self._close(CLOSE_NORMAL, "")
                return "closed by client"

    def _metadata(self) -> dict[str, Any]:
        return metadata_message(
            request_id=self._request_id,
            created=self._created,
            duration=self._audio_seconds,
            sha256=self._sha256.hexdigest(),
            model=self._model,
        )

    async def _send_events(self, events: list[Event]) -> None:
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
        try:
            await self._ws.close(code=code, reason=reason)
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass  # the client is already gone
