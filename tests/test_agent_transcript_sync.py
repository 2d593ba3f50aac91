"""agent.transcript_sync: a synchronised reply's first word goes out with its first
audio, and the words after it keep the framework's pacing (the real synchronizer)."""

from __future__ import annotations

import asyncio
import time

import pytest
from livekit import rtc
from livekit.agents import tokenize
from livekit.agents.voice import io
from livekit.agents.voice.transcription import synchronizer

from agent.transcript_sync import (
    _NoRateDetector,
    text_clock_from_reply_text,
    text_paced_by_duration,
    text_with_first_audio,
)

pytestmark = pytest.mark.unit


class _Text(io.TextOutput):
    def __init__(self) -> None:
        super().__init__(label="recorded", next_in_chain=None)
        self.words: list[str] = []

    async def capture_text(self, text: str) -> None:
        self.words.append(str(text))

    def flush(self) -> None:
        pass


def _segment(out: _Text) -> synchronizer._SegmentSynchronizerImpl:
    options = synchronizer._TextSyncOptions(
        speed=1.0,
        hyphenate_word=tokenize.basic.hyphenate_word,
        word_tokenizer=tokenize.basic.WordTokenizer(
            retain_format=True, ignore_punctuation=False, split_character=True
        ),
        speaking_rate_detector=synchronizer.SpeakingRateDetector(),
    )
    segment = synchronizer._SegmentSynchronizerImpl(options=options, next_in_chain=out)
    segment.push_text("You said hello agent.")
    segment.end_text_input()
    return segment


async def _words_once_playing(
    segment: synchronizer._SegmentSynchronizerImpl, out: _Text
) -> list[str]:
    """The words out after playback starts and the loop runs, with no time passing."""
    segment.on_playback_started(time.time())
    for _ in range(50):
        await asyncio.sleep(0)
    words = list(out.words)
    await segment.aclose()
    return words


async def test_the_framework_alone_sends_no_word_when_the_audio_starts() -> None:
    """The reason for the module: without it the first word waits half its duration."""
    impl = synchronizer._SegmentSynchronizerImpl
    if any(getattr(f, "__wrapped__", None) for f in (impl._sleep_if_not_closed, impl.push_text)):
        pytest.skip("transcript_sync is installed in this process already")
    out = _Text()
    assert await _words_once_playing(_segment(out), out) == []


async def test_the_first_word_goes_out_with_the_first_audio_and_only_it() -> None:
    text_with_first_audio()
    text_with_first_audio()  # idempotent
    out = _Text()
    assert await _words_once_playing(_segment(out), out) == ["You"]


async def test_the_first_word_goes_out_with_the_reply_text_before_any_audio(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """text_clock_from_reply_text(): the segment's clock starts at its first text, and
    the framework's own start at the first played frame finds it running, silently."""
    text_with_first_audio()
    text_clock_from_reply_text()
    text_clock_from_reply_text()  # idempotent
    out = _Text()
    segment = _segment(out)  # text pushed; no audio played yet
    for _ in range(50):
        await asyncio.sleep(0)
    assert out.words == ["You"]
    with caplog.at_level("WARNING"):
        segment.on_playback_started(time.time())
    await segment.aclose()
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == []


async def test_without_the_rate_analysis_the_words_still_span_the_reply_in_order() -> None:
    """text_paced_by_duration(): no STFT of the reply's audio on the event loop; the words
    are paced over the audio's duration, the first with the audio, all of them in order."""
    text_with_first_audio()
    text_paced_by_duration()
    out = _Text()
    segment = _segment(out)
    assert isinstance(segment._audio_data.sr_stream, type(_NoRateDetector().stream()))
    for _ in range(40):  # 0.4 s of reply audio
        segment.push_audio(rtc.AudioFrame(bytes(480 * 2), 48000, 1, 480))
    segment.end_audio_input()
    segment.on_playback_started(time.time())
    for _ in range(50):
        await asyncio.sleep(0)
    first = list(out.words)
    for _ in range(300):
        if "".join(out.words) == "You said hello agent.":
            break
        await asyncio.sleep(0.01)
    words = list(out.words)
    await segment.aclose()
    assert first == ["You"]
    assert "".join(words) == "You said hello agent."
