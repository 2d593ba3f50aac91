"""Graceful STT resets for push-to-talk, around any streaming livekit-agents STT.

`AgentSession.clear_user_turn()` replaces the STT stream on every turn. This
wrapper makes that replacement cheap and clean:

- ``prewarm`` (default): a standby stream is connected ahead of time; a reset
  hands it over at once and opens the next standby.
- ``reconnect``: every reset opens a fresh stream (the framework's behaviour),
  kept as the baseline to measure against.

Either way the old stream is closed by its owner, which cancels and awaits its
tasks and retrieves their outcome, so no cancellation escapes as an error.

Audio is gated per turn: a stream created while a turn is open forwards audio
to the STT until its flush (end of turn); otherwise audio only feeds the
pre-roll ring, which the next turn's stream replays first so the words spoken
between press and `start_turn` are not lost.

No turn is lost when the STT connection dies. Inner streams run with the plugin's
own retry off (it would reconnect with only the audio that comes later). A turn
keeps the audio it fed the STT (pre-roll plus turn); when its inner stream fails
before the STT answered the turn's flush, a fresh inner stream gets that audio
again, from the end of the last final already received (word timestamps), then the
flush if it had been sent. Fresh streams are tried for RECOVER_WITHIN seconds.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any, Literal

from livekit import rtc
from livekit.agents import APIError, stt, utils
from livekit.agents.language import LanguageCode
from livekit.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGivenOr,
)

from .preroll import PrerollBuffer

logger = logging.getLogger("ptt-agent.stt")

ResetStrategy = Literal["prewarm", "reconnect"]
EMPTY_TURN_GRACE = 0.4  # seconds after a flush before a silent turn is answered as empty
_SPEECH_EVENTS = (
    stt.SpeechEventType.START_OF_SPEECH,
    stt.SpeechEventType.INTERIM_TRANSCRIPT,
    stt.SpeechEventType.FINAL_TRANSCRIPT,
)
STRATEGIES: tuple[ResetStrategy, ...] = ("prewarm", "reconnect")
RECOVER_WITHIN = 20.0  # seconds a stream keeps opening fresh inner streams after a failure
_RECOVER_BACKOFF = (0.05, 0.1, 0.25, 0.5, 1.0)  # then 1 s between attempts


async def close_stream(stream: stt.RecognizeStream) -> None:
    """Close an inner stream and retrieve its task's outcome, whatever it was."""
    await stream.aclose()
    task = stream._task
    if task.done() and not task.cancelled() and (exc := task.exception()) is not None:
        logger.debug("closed STT stream had failed", extra={"error": repr(exc)})


def _answer_empty_finalize(inner: _Inner) -> bool:
    """Deepgram answers Finalize with an empty final when its endpointing already
    finalized everything; the plugin drops empty results, so a manual commit would wait
    its whole transcript timeout. Turn that answer into an empty FINAL_TRANSCRIPT,
    in order with the stream's other events, and note on `inner` that the flush was
    answered. False for a plugin without that answer."""
    stream = inner.stream
    process = getattr(stream, "_process_stream_event", None)
    if not callable(process):
        return False  # another plugin: TurnStream's grace timer covers silent finals

    def _on_message(data: dict[str, Any]) -> None:
        process(data)
        if data.get("type") != "Results" or not data.get("from_finalize"):
            return
        if data.get("is_final"):
            inner.flush_answered = True
        alternatives = data.get("channel", {}).get("alternatives") or [{}]
        if not str(alternatives[0].get("transcript", "")).strip():
            stream._event_ch.send_nowait(_empty_final())

    stream._process_stream_event = _on_message  # type: ignore[attr-defined]
    return True


def _empty_final() -> stt.SpeechEvent:
    return stt.SpeechEvent(
        type=stt.SpeechEventType.FINAL_TRANSCRIPT,
        alternatives=[stt.SpeechData(language=LanguageCode("en"), text="")],
    )


class _Inner:
    """One stream of the wrapped STT and the moment its connection was acquired."""

    def __init__(self, stream: stt.RecognizeStream) -> None:
        self.stream = stream
        self.created_at = time.monotonic()
        self.connected_at: float | None = None
        self.connected = asyncio.Event()  # also set, with connected_at None, when replaced
        self.flush_answered = False  # a final answering Finalize came (Deepgram's protocol)
        report = stream._report_connection_acquired

        # The base class offers no "connected" signal; plugins call this hook once
        # their socket is up, so a per-instance wrapper observes it for any plugin.
        def _on_acquired(acquire_time: float, connection_reused: bool) -> None:
            if self.connected_at is None:
                self.connected_at = time.monotonic()
                self.connected.set()
            report(acquire_time, connection_reused)

        stream._report_connection_acquired = _on_acquired  # type: ignore[method-assign]
        # the STT's answer to Finalize comes after all audio sent before it is decoded;
        # a wall-clock grace would commit "" for a turn the STT is still decoding
        self.answers_finalize = _answer_empty_finalize(self)

    @property
    def alive(self) -> bool:
        return not self.stream._task.done()


class ResettableSTT(stt.STT):
    """Wraps a streaming STT with a reset strategy, a per-turn gate and pre-roll."""

    def __init__(
        self,
        *,
        inner: stt.STT,
        strategy: ResetStrategy = "prewarm",
        preroll: float = 0.5,
        keep: float = 5.0,
    ) -> None:
        if not inner.capabilities.streaming:
            raise ValueError("ResettableSTT needs a streaming STT")
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown reset strategy {strategy!r}, use one of {STRATEGIES}")
        super().__init__(
            capabilities=stt.STTCapabilities(
                streaming=True,
                interim_results=inner.capabilities.interim_results,
                aligned_transcript=inner.capabilities.aligned_transcript,
                offline_recognize=False,
                manual_flush=True,
            )
        )
        self._inner = inner
        self._strategy: ResetStrategy = strategy
        self._preroll = PrerollBuffer(max_duration=keep)
        self._preroll_window = preroll
        self._turn_open = False
        self._turn_pressed_at = 0.0
        self._standby: _Inner | None = None
        self._conn_options = DEFAULT_API_CONNECT_OPTIONS
        self._closing = False
        self._tasks: set[asyncio.Task[Any]] = set()
        # Inner streams are opened in the context this STT was made in (the job's), not
        # in the turn's: the framework sets a context variable to each turn's STT pipeline,
        # and a standby opened during turn N carried N's pipeline (frames, tracebacks,
        # TurnStream N, whose standby carried N-1's...) into every later turn. That chain
        # kept every ended turn alive: +0.15 MB of job memory per soak cycle.
        self._context = contextvars.copy_context()
        self.recoveries = 0
        """How often a turn was replayed into a fresh inner stream (the STT failed)."""
        self.on_fed: Callable[[rtc.AudioFrame, bool], None] | None = None
        """Called with each frame a turn feeds the STT, and whether it is pre-roll."""
        self.on_turn_ready: Callable[[float, float], None] | None = None
        """Called with the monotonic time a turn's stream could first send audio and the
        seconds of pre-roll audio replayed into it."""

    @property
    def model(self) -> str:
        return self._inner.model

    @property
    def provider(self) -> str:
        return self._inner.provider

    @property
    def strategy(self) -> ResetStrategy:
        return self._strategy

    @property
    def turn_open(self) -> bool:
        return self._turn_open

    def open_turn(self, *, requested_at: float | None = None) -> None:
        """The next stream (created by the coming reset) carries a turn's audio.

        Audio received up to the pre-roll window before `requested_at` (when
        `start_turn` arrived; default now) is replayed into it first.
        """
        self._turn_open = True
        self._turn_pressed_at = time.monotonic() if requested_at is None else requested_at

    def close_turn(self) -> None:
        """The turn ended or was cancelled: later streams only feed the pre-roll."""
        self._turn_open = False
        self._preroll.mark_boundary()

    def mark_boundary(self) -> None:
        """Forget buffered audio (the microphone was muted)."""
        self._preroll.mark_boundary()

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> TurnStream:
        self._conn_options = conn_options
        return TurnStream(stt=self, conn_options=conn_options, gate_open=self._turn_open)

    async def _recognize_impl(
        self,
        buffer: utils.AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        return await self._inner.recognize(buffer, language=language, conn_options=conn_options)

    async def aclose(self) -> None:
        """Close the standby and wait for every background close."""
        self._closing = True
        standby, self._standby = self._standby, None
        if standby is not None:
            await close_stream(standby.stream)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- used by TurnStream -------------------------------------------------
    def _open_inner(self) -> _Inner:
        # no retry inside the plugin: a reconnect there would go on with later audio
        # only; TurnStream replays the turn into a fresh stream instead
        options = dataclasses.replace(self._conn_options, max_retry=0)
        stream = self._context.copy().run(self._inner.stream, conn_options=options)
        return _Inner(stream)

    def _acquire(self) -> _Inner:
        if self._strategy == "reconnect" or self._closing:
            return self._open_inner()
        inner, self._standby = self._standby, None
        if inner is None or not inner.alive:
            if inner is not None:
                self._close_in_background(inner.stream)
            inner = self._open_inner()
        self._standby = self._open_inner()
        return inner

    def _close_in_background(self, stream: stt.RecognizeStream) -> None:
        task = asyncio.create_task(close_stream(stream), name="ResettableSTT.close")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _turn_ready(self, at: float, preroll: float) -> None:
        if self.on_turn_ready is not None:
            self.on_turn_ready(at, preroll)


class TurnStream(stt.RecognizeStream):
    """One STT stream of the session, backed by an inner stream of the wrapped STT,
    replaced (the turn's audio replayed) when it fails."""

    def __init__(
        self, *, stt: ResettableSTT, conn_options: APIConnectOptions, gate_open: bool
    ) -> None:
        # retries are TurnStream's (a fresh inner stream with the turn replayed); a
        # failure past RECOVER_WITHIN surfaces to the pipeline, which recreates the stream
        super().__init__(stt=stt, conn_options=dataclasses.replace(conn_options, max_retry=0))
        self._owner = stt
        self._gate_open = gate_open
        self._heard = False  # the STT reported speech or text during this turn
        self.preroll_seconds = 0.0
        self._empty_atask: asyncio.Task[None] | None = None
        self._inner: _Inner | None = None
        self._kept: list[rtc.AudioFrame] = []  # the turn's audio as fed to the STT
        self._inner_base = 0.0  # seconds of kept audio before the inner stream's first frame
        self._final_upto = 0.0  # seconds of kept audio covered by finals received
        self._flushed = False  # the turn's end (flush) was sent
        self._final_after_flush = False  # a final came after it (plugins without Finalize)
        self._input_ended = False
        self._sent = 0  # frames fed to the STT
        self._missed = 0  # frames that came while a turn was open, to this closed stream
        self.recoveries = 0
        """How often this stream's turn was replayed into a fresh inner stream."""

    @property
    def gate_open(self) -> bool:
        return self._gate_open

    async def _run(self) -> None:
        owner = self._owner
        self._inner = inner = owner._acquire()
        tasks: list[asyncio.Task[None]] = []
        try:
            if self._gate_open:
                since = owner._turn_pressed_at - owner._preroll_window
                preroll = owner._preroll.take(since)
                for frame in preroll:
                    self._send(frame, preroll=True)
                self.preroll_seconds = sum(f.duration for f in preroll)
                tasks.append(asyncio.create_task(self._report_ready()))
            tasks.append(asyncio.create_task(self._forward_input()))
            await self._forward_all_events()
        finally:
            if self._empty_atask is not None:
                tasks.append(self._empty_atask)
            await utils.aio.cancel_and_wait(*tasks)
            for task in tasks:
                if not task.cancelled() and (exc := task.exception()) is not None:
                    logger.debug("turn stream task failed", extra={"error": repr(exc)})
            await close_stream(self._inner.stream if self._inner else inner.stream)
            self._kept = []  # the framework may hold on to ended streams: free the audio
            if self._missed:
                # diagnostic for the soak's rare empty turn (docs/capacity.md): a
                # stream whose gate was closed at its creation got an open turn's audio
                logger.info(
                    "an open turn's audio reached a closed turn stream",
                    extra={"missed_frames": self._missed, "sent_frames": self._sent},
                )

    def _send(self, frame: rtc.AudioFrame, *, preroll: bool = False) -> None:
        """Feed a frame of the open turn to the STT, and keep it for a replay."""
        self._kept.append(frame)
        if self._owner.on_fed is not None:
            self._owner.on_fed(frame, preroll)
        self._to_inner(lambda stream: stream.push_frame(frame))

    def _to_inner(self, action: Callable[[stt.RecognizeStream], None]) -> None:
        """Apply `action` to the inner stream unless it has failed (a closed stream
        refuses input): its replacement is given the kept audio instead."""
        assert self._inner is not None
        try:
            action(self._inner.stream)
        except RuntimeError:
            if self._inner.alive:
                raise

    async def _report_ready(self) -> None:
        while True:  # the stream the turn ends up on, if the first failed before connecting
            inner = self._inner
            assert inner is not None
            await inner.connected.wait()
            if inner.connected_at is not None:
                break
        self._owner._turn_ready(max(inner.connected_at, inner.created_at), self.preroll_seconds)

    async def _forward_input(self) -> None:
        async for item in self._input_ch:
            assert self._inner is not None
            if isinstance(item, rtc.AudioFrame):
                if self._gate_open:
                    self._sent += 1
                    self._send(item)
                else:
                    if self._owner.turn_open and not self._flushed:
                        self._missed += 1
                    self._owner._preroll.push(item)
            elif self._gate_open:
                self._to_inner(lambda stream: stream.flush())
                self._gate_open = False
                self._flushed = True
                if not self._heard and not self._inner.answers_finalize:
                    self._empty_atask = asyncio.create_task(self._answer_empty_turn())
        self._input_ended = True
        self._to_inner(lambda stream: stream.end_input())

    async def _forward_all_events(self) -> None:
        """Forward the inner stream's events; on a retryable failure, go on with a fresh
        inner stream (the turn replayed into it) for up to RECOVER_WITHIN seconds."""
        failed_at: float | None = None
        attempt = 0
        while True:
            inner = self._inner
            assert inner is not None
            try:
                await self._forward_events(inner)
                return
            except APIError as e:
                if not e.retryable:
                    raise
                now = time.monotonic()
                if failed_at is None or inner.connected_at is not None:
                    failed_at, attempt = now, 0  # a new outage, not the same one going on
                if now - failed_at > RECOVER_WITHIN:
                    raise
                delay = _RECOVER_BACKOFF[min(attempt, len(_RECOVER_BACKOFF) - 1)]
                attempt += 1
                logger.warning(
                    "STT stream failed: continuing on a fresh stream",
                    extra={"error": str(e), "attempt": attempt, "retry_in": delay},
                )
                await asyncio.sleep(delay)
                self._replace_inner()

    def _replace_inner(self) -> None:
        """A fresh inner stream in place of the failed one, given what it had not
        answered yet: the turn's audio after the last final, then the flush."""
        old = self._inner
        assert old is not None
        old.connected.set()  # wakes _report_ready; connected_at stays None if it never was
        self._owner._close_in_background(old.stream)
        self._inner = inner = self._owner._open_inner()
        answered = old.flush_answered or self._final_after_flush
        if self._kept and not answered:
            offset, replay = 0.0, []
            for frame in self._kept:
                if offset + frame.duration > self._final_upto:
                    replay.append(frame)
                else:
                    offset += frame.duration
            self._inner_base = offset
            for frame in replay:
                inner.stream.push_frame(frame)
            if self._flushed:
                inner.stream.flush()
            self.recoveries += 1
            self._owner.recoveries += 1
            logger.info(
                "turn replayed into a fresh STT stream",
                extra={
                    "replayed_s": round(sum(f.duration for f in replay), 3),
                    "flushed": self._flushed,
                    "recoveries": self.recoveries,
                },
            )
        if self._input_ended:
            inner.stream.end_input()

    async def _forward_events(self, inner: _Inner) -> None:
        async for ev in inner.stream:
            if ev.type in _SPEECH_EVENTS and (
                ev.type == stt.SpeechEventType.START_OF_SPEECH
                or (ev.alternatives and ev.alternatives[0].text)
            ):
                self._heard = True
            if ev.type == stt.SpeechEventType.FINAL_TRANSCRIPT:
                self._final_after_flush = self._final_after_flush or (
                    self._flushed and not inner.answers_finalize
                )
                if inner.flush_answered or self._final_after_flush:
                    self._kept = []  # answered: nothing left to replay
                end = ev.alternatives[0].end_time if ev.alternatives else 0.0
                if end > 0:  # word timestamps: this much of the turn needs no replay
                    self._final_upto = max(self._final_upto, self._inner_base + end)
            self._event_ch.send_nowait(ev)

    async def _answer_empty_turn(self) -> None:
        """A turn with no speech: many STTs (Deepgram) send no final for it, so the
        session would wait its whole transcript timeout. Answer "" after a grace period
        unless the STT reports speech meanwhile."""
        await asyncio.sleep(EMPTY_TURN_GRACE)
        if not self._heard:
            self._event_ch.send_nowait(_empty_final())
