"""The agent's reply text no later than its audio.

livekit-agents releases the reply's words in step with its audio
(`TextOutputOptions.sync_transcription`, on by default): each word goes out half-way
through its estimated duration (`_SegmentSynchronizerImpl._main_task` sleeps
`delay / 2` before sending it, and `delay / 2` after). So the first word leaves about
130 ms (one syllable at the standard 3.83 syllables a second, halved) after the first
audio frame, and reaches a listener after the audio it belongs to: the reply's text
came 100 ms after its first audible frame at the client, in 20 of 20 turns.

`text_with_first_audio()` lets each segment's first word go out when its playback
starts; every later word keeps the framework's pacing (which measures elapsed playback,
so it does not drift), and the text of an interrupted reply still stops where the
audio stopped.

`text_clock_from_reply_text()` starts each segment's clock at its first text instead of
its first played frame: the TTS's first chunk comes ~25 ms after the text, and the
page's data channel delivers a message 20-150 ms later than a Python listener gets it,
so text released with the audio still reached the page after the audio in 1-3 turns
of 20 (bench_page). The words then run that many ms ahead of the audio all the way.
A reply cut before its audio started has shown its first word.

`text_paced_by_duration()` drops the synchroniser's speaking-rate analysis: a numpy STFT
of every reply frame (`SpeakingRateStream`), run on the job's event loop. It held the
loop 6-17 ms at a time, several times in the first 100 ms of each reply, just when the
reply's first frames and words go out (measured per callback, bench_reply), and it was
4.4 % of the worker's samples with 8 sessions (docs/capacity.md). Without it the
framework paces the words evenly over the reply's audio (`syllables / audio seconds`,
its own fallback), instead of by the audio's syllable rhythm: the text still starts with
the audio and ends with it.

All three are process-wide and idempotent (livekit-agents 1.8.9's internals).
"""

from __future__ import annotations

import functools
import time
from typing import Any

from livekit import rtc
from livekit.agents.utils import aio
from livekit.agents.voice.transcription import synchronizer

_FIRST_OUT = "_ptt_first_word_out"
_CLOCK_FROM_TEXT = "_ptt_clock_from_text"
_installed = False


def text_with_first_audio() -> None:
    """Send each synchronised segment's first word with its first audio frame."""
    global _installed
    if _installed:
        return
    impl = synchronizer._SegmentSynchronizerImpl
    sleep = impl._sleep_if_not_closed

    @functools.wraps(sleep)
    async def _sleep(self: Any, delay: float) -> None:
        # the main task's first sleep is the one before the first word
        if not getattr(self, _FIRST_OUT, False):
            setattr(self, _FIRST_OUT, True)
            return
        await sleep(self, delay)

    impl._sleep_if_not_closed = _sleep  # type: ignore[method-assign]
    _installed = True


def text_clock_from_reply_text() -> None:
    """Start each synchronised segment's clock (and so its first word) at its first
    text; the framework's own start at the first played frame then finds it running."""
    impl = synchronizer._SegmentSynchronizerImpl
    if getattr(impl.push_text, "__wrapped__", None) is not None:
        return
    push_text, started = impl.push_text, impl.on_playback_started

    @functools.wraps(push_text)
    def _push_text(self: Any, text: str) -> None:
        push_text(self, text)
        if str(text).strip() and not self.closed and not self._start_fut.is_set():
            setattr(self, _CLOCK_FROM_TEXT, True)
            started(self, time.time())

    @functools.wraps(started)
    def _started(self: Any, start_time: float) -> None:
        if not getattr(self, _CLOCK_FROM_TEXT, False):
            started(self, start_time)

    impl.push_text = _push_text  # type: ignore[method-assign]
    impl.on_playback_started = _started  # type: ignore[method-assign]


class _NoRateEvents:
    """A speaking-rate stream that measures nothing: it takes the frames and ends with
    its input, so the synchroniser's estimate stays empty and it paces by duration."""

    def __init__(self) -> None:
        self._events: aio.Chan[Any] = aio.Chan()

    def push_frame(self, frame: rtc.AudioFrame) -> None:
        pass

    def flush(self) -> None:
        pass

    def end_input(self) -> None:
        self._events.close()

    async def aclose(self) -> None:
        self._events.close()

    def __aiter__(self) -> aio.Chan[Any]:
        return self._events


class _NoRateDetector:
    def stream(self) -> _NoRateEvents:
        return _NoRateEvents()


def text_paced_by_duration() -> None:
    """Synchronisers made from now on pace their words without the speaking-rate STFT."""
    synchronizer.SpeakingRateDetector = _NoRateDetector  # type: ignore[misc,assignment]
