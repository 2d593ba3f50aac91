"""One stream's recognition: resample, find utterances, decode them, report events.

Synchronous and deterministic (same audio in, same events out), so it runs in a worker
process and is tested without a server. Times are audio time, in seconds from the
start of the stream, as in Deepgram's messages.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from .endpointing import FRAME_MS, FRAME_SAMPLES, Segmenter, Signal
from .engine import SAMPLE_RATE, Engine, Hypothesis, PartialDecoder
from .events import Event, SpeechStartedEvent, TranscriptEvent, UtteranceEndEvent
from .resample import StreamResampler

# With endpointing disabled, a segment still becomes final (speech_final=false) after
# this much silence, as Deepgram keeps sending is_final results without endpointing.
AUTO_FINAL_SILENCE_MS = 1000
# Audio decoded around the speech the VAD found. Measured on espeak-ng phrases: more
# than ~100 ms of trailing non-speech makes the grammar search append a word ("good
# morning what"), so the tail is cut to 100 ms; 200 ms before the onset is harmless.
_LEAD_FRAMES = 20
_TAIL_FRAMES = 10
# A final decodes the utterance up to _TAIL_FRAMES past its last speech frame, so once
# that much silence followed the speech its result is fixed: it is decoded then, ahead
# of the Finalize (or endpoint) that will ask for it, and taken from there if no speech
# came since. A push-to-talk release usually comes in that pause; the final's whole
# decode (~50 ms per second of audio here) then leaves the release's path. Bounded:
# utterances up to this long, at most this many decodes ahead per utterance (a speaker
# who pauses and goes on costs one wasted decode per pause).
_AHEAD_MAX_FRAMES = 1000
_AHEAD_MAX_PER_UTTERANCE = 3


@dataclass(frozen=True, slots=True)
class RecognizerOptions:
    """Per-stream behaviour: the client's query parameters plus server limits."""

    sample_rate: int
    interim_results: bool = False
    endpointing_ms: int | None = 10  # None: disabled
    utterance_end_ms: int | None = None
    vad_events: bool = False
    interim_interval_ms: int = 200
    min_endpointing_ms: int = 200
    vad_threshold_db: float = -45.0
    max_utterance_ms: int = 30000
    decode_ahead: bool = True  # decode a final in the pause before it is asked for


class Recognizer:
    """Turn a PCM16 mono byte stream into transcript events."""

    def __init__(self, engine: Engine, options: RecognizerOptions) -> None:
        self._engine = engine
        self._opts = options
        self._resampler = StreamResampler(options.sample_rate, SAMPLE_RATE)
        endpoint = options.endpointing_ms
        self._speech_final_on_endpoint = endpoint is not None
        silence = (
            max(endpoint, options.min_endpointing_ms)
            if endpoint is not None
            else AUTO_FINAL_SILENCE_MS
        )
        self._segmenter = Segmenter(threshold_db=options.vad_threshold_db, endpoint_ms=silence)
        self._odd_byte = b""
        self._pending = np.zeros(0, dtype=np.int16)  # < one frame of 16 kHz audio
        self._frames = 0  # 10 ms frames processed
        self._input_bytes = 0
        self._preroll: deque[np.ndarray] = deque(maxlen=_LEAD_FRAMES + self._segmenter.onset_frames)
        self._utterance: list[np.ndarray] | None = None
        self._speech_frames = 0  # length of the utterance up to its last speech frame
        self._ahead: tuple[int, Hypothesis] | None = None  # (frames decoded, their final)
        self._ahead_count = 0
        self._utterance_start = 0.0
        self._partial: PartialDecoder | None = None
        self._partial_pending: list[np.ndarray] = []  # frames not yet fed to it
        self._since_interim_ms = 0
        self._last_interim = ""
        self._segment_start = 0.0  # end of the audio covered by the last final result
        self._last_word_end: float | None = None  # set until UtteranceEnd reports it
        self._shedding = False  # the current push asked for no interims
        self.interims_shed = 0  # utterances whose interim results were dropped

    @property
    def audio_seconds(self) -> float:
        """Duration of the audio received so far, at the input rate."""
        return self._input_bytes / 2 / self._opts.sample_rate

    @property
    def _now(self) -> float:
        return self._frames * FRAME_MS / 1000

    def push(self, data: bytes, *, interims: bool = True) -> list[Event]:
        """Consume PCM16LE bytes (any length; an odd byte waits for the next call).

        ``interims=False`` (the caller is behind real time) drops the interim results of
        the utterance in progress and of any that starts in ``data``: their streaming
        decoder is closed, so only the final is decoded. The next utterance has interims
        again."""
        self._input_bytes += len(data)
        self._shedding = not interims
        if self._shedding and self._partial is not None:
            self._close_partial()
            self.interims_shed += 1
        data = self._odd_byte + data
        usable = len(data) - len(data) % 2
        self._odd_byte = data[usable:]
        samples = np.frombuffer(data[:usable], dtype="<i2")
        audio = np.concatenate([self._pending, self._resampler.process(samples)])
        whole = audio.size - audio.size % FRAME_SAMPLES
        self._pending = audio[whole:]
        events: list[Event] = []
        for frame in audio[:whole].reshape(-1, FRAME_SAMPLES):
            self._on_frame(frame, events)
        self._feed_partial()
        self._maybe_decode_ahead()
        return events

    @property
    def decoded_ahead(self) -> bool:
        """Whether the pending utterance's final is already decoded (for tests)."""
        return self._ahead is not None and self._ahead[0] == self._final_frames()

    def _final_frames(self) -> int:
        assert self._utterance is not None
        return min(len(self._utterance), self._speech_frames + _TAIL_FRAMES)

    def _maybe_decode_ahead(self) -> None:
        u = self._utterance
        if (
            not self._opts.decode_ahead
            or u is None
            or len(u) < self._speech_frames + _TAIL_FRAMES
            or len(u) > _AHEAD_MAX_FRAMES
            or self._ahead_count >= _AHEAD_MAX_PER_UTTERANCE
            or self.decoded_ahead
        ):
            return
        n = self._final_frames()
        self._ahead = (n, self._engine.decode(np.concatenate(u[:n]), offset=self._utterance_start))
        self._ahead_count += 1

    def discard(self) -> None:
        """Free decoding resources of an abandoned stream."""
        self._close_partial()

    def finalize(self) -> list[Event]:
        """Client sent Finalize: a final result for everything so far, then start afresh."""
        events: list[Event] = []
        self._flush_pending(events)
        if self._utterance is not None:
            events.append(self._finish(speech_final=False, from_finalize=True))
        else:
            events.append(self._empty_final(from_finalize=True))
        self._segmenter.reset()
        return events

    def close(self) -> list[Event]:
        """Client sent CloseStream: final results for pending speech, if any."""
        events: list[Event] = []
        self._flush_pending(events)
        if self._utterance is not None:
            events.append(self._finish(speech_final=True, from_finalize=False))
        return events

    def _flush_pending(self, events: list[Event]) -> None:
        """Treat a trailing partial frame as a frame (zero-padded), so no audio is lost."""
        if self._pending.size:
            frame = np.zeros(FRAME_SAMPLES, dtype=np.int16)
            frame[: self._pending.size] = self._pending
            self._pending = np.zeros(0, dtype=np.int16)
            self._on_frame(frame, events)

    def _on_frame(self, frame: np.ndarray, events: list[Event]) -> None:
        self._frames += 1
        signal = self._segmenter.step(frame)
        if self._utterance is None:
            self._preroll.append(frame)
            if signal is Signal.SPEECH_START:
                onset = self._now - self._segmenter.onset_frames * FRAME_MS / 1000
                if self._opts.vad_events:
                    events.append(SpeechStartedEvent(timestamp=round(onset, 3)))
                self._begin(list(self._preroll))
        else:
            self._utterance.append(frame)
            if self._segmenter.silence_ms == 0:
                self._speech_frames = len(self._utterance)
            if self._partial is not None and self._segmenter.silence_ms <= _TAIL_FRAMES * FRAME_MS:
                self._partial_pending.append(frame)
            if signal is Signal.ENDPOINT:
                events.append(
                    self._finish(speech_final=self._speech_final_on_endpoint, from_finalize=False)
                )
            elif self._now - self._utterance_start >= self._opts.max_utterance_ms / 1000:
                events.append(self._finish(speech_final=False, from_finalize=False))
                if self._segmenter.in_speech:
                    self._begin([])
            else:
                self._maybe_interim(events)
        self._maybe_utterance_end(events)

    def _begin(self, frames: list[np.ndarray]) -> None:
        self._utterance = frames
        self._speech_frames = len(frames)
        self._ahead = None
        self._ahead_count = 0
        self._utterance_start = self._now - len(frames) * FRAME_MS / 1000
        self._since_interim_ms = 0
        self._last_interim = ""
        self._preroll.clear()
        if self._opts.interim_results and not self._shedding:
            self._partial = self._engine.open_partial(offset=self._utterance_start)
            self._partial_pending = list(frames)
        elif self._opts.interim_results:
            self.interims_shed += 1

    def _feed_partial(self) -> None:
        if self._partial is not None and self._partial_pending:
            self._partial.feed(np.concatenate(self._partial_pending))
        self._partial_pending = []

    def _close_partial(self) -> None:
        if self._partial is not None:
            self._partial.close()
            self._partial = None
        self._partial_pending = []

    def _maybe_interim(self, events: list[Event]) -> None:
        if self._partial is None:
            return
        self._since_interim_ms += FRAME_MS
        if self._since_interim_ms < self._opts.interim_interval_ms:
            return
        if self._segmenter.silence_ms > _TAIL_FRAMES * FRAME_MS:
            return  # nothing new is being said
        self._since_interim_ms = 0
        self._feed_partial()
        hyp = self._partial.hypothesis()
        if not hyp.text or hyp.text == self._last_interim:
            return
        self._last_interim = hyp.text
        if hyp.words:
            self._last_word_end = hyp.words[-1].end
        events.append(
            TranscriptEvent(
                start=round(self._segment_start, 3),
                duration=round(self._now - self._segment_start, 3),
                is_final=False,
                speech_final=False,
                from_finalize=False,
                text=hyp.text,
                confidence=hyp.confidence,
                words=hyp.words,
            )
        )

    def _finish(self, *, speech_final: bool, from_finalize: bool) -> TranscriptEvent:
        assert self._utterance is not None
        if self.decoded_ahead:
            assert self._ahead is not None
            hyp = self._ahead[1]
        else:
            frames = self._utterance[: self._final_frames()]
            audio = np.concatenate(frames) if frames else np.zeros(0, np.int16)
            hyp = self._engine.decode(audio, offset=self._utterance_start)
        self._utterance = None
        self._ahead = None
        self._close_partial()
        if hyp.words:
            self._last_word_end = hyp.words[-1].end
        event = TranscriptEvent(
            start=round(self._segment_start, 3),
            duration=round(self._now - self._segment_start, 3),
            is_final=True,
            speech_final=speech_final,
            from_finalize=from_finalize,
            text=hyp.text,
            confidence=hyp.confidence,
            words=hyp.words,
        )
        self._segment_start = self._now
        return event

    def _empty_final(self, *, from_finalize: bool) -> TranscriptEvent:
        event = TranscriptEvent(
            start=round(self._segment_start, 3),
            duration=round(self._now - self._segment_start, 3),
            is_final=True,
            speech_final=False,
            from_finalize=from_finalize,
            text="",
            confidence=0.0,
            words=(),
        )
        self._segment_start = self._now
        return event

    def _maybe_utterance_end(self, events: list[Event]) -> None:
        limit = self._opts.utterance_end_ms
        if limit is None or self._last_word_end is None:
            return
        if self._segmenter.silence_ms >= limit:
            events.append(UtteranceEndEvent(last_word_end=self._last_word_end))
            self._last_word_end = None
