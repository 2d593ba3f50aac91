"""STT service: the recognizer on espeak-ng speech, without a server (real pocketsphinx)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from stt_service.commands import PHRASES
from stt_service.engine import Engine, EngineError, build_spec
from stt_service.events import Event, SpeechStartedEvent, TranscriptEvent, UtteranceEndEvent
from stt_service.recognizer import Recognizer, RecognizerOptions
from stt_service.testing import silence, synthesize

pytestmark = pytest.mark.unit

Speech = Callable[..., np.ndarray]


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(build_spec("commands"))


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Speech:
    directory = tmp_path_factory.mktemp("speech")
    cache: dict[tuple[str, int], np.ndarray] = {}

    def make(text: str, rate: int = 16000) -> np.ndarray:
        if (text, rate) not in cache:
            cache[(text, rate)] = synthesize(text, directory, sample_rate=rate)
        return cache[(text, rate)]

    return make


def trimmed(pcm: np.ndarray) -> np.ndarray:
    """Speech without espeak-ng's trailing silence (so no endpoint is reached)."""
    return pcm[: int(np.nonzero(np.abs(pcm) > 100)[0][-1]) + 1]


def feed(rec: Recognizer, pcm: np.ndarray, chunk: int = 800) -> list[Event]:
    data = pcm.astype("<i2").tobytes()
    events: list[Event] = []
    for i in range(0, len(data), chunk * 2):
        events += rec.push(data[i : i + chunk * 2])
    return events


def finals(events: list[Event]) -> list[TranscriptEvent]:
    return [e for e in events if isinstance(e, TranscriptEvent) and e.is_final]


def texts(events: list[Event]) -> list[str]:
    return [e.text for e in finals(events) if e.text]


@pytest.mark.parametrize("phrase", PHRASES)
def test_stt_recognizer_transcribes_every_command(
    engine: Engine, speech: Speech, phrase: str
) -> None:
    rec = Recognizer(engine, RecognizerOptions(sample_rate=16000, endpointing_ms=25))
    events = feed(rec, np.concatenate([silence(0.3), speech(phrase), silence(0.5)]))
    [final] = finals(events)
    assert final.text == phrase
    assert final.speech_final and not final.from_finalize
    assert [w.word for w in final.words] == phrase.split()
    assert all(0.0 < w.start < w.end <= final.start + final.duration for w in final.words)


@pytest.mark.parametrize("rate", [8000, 24000, 44100, 48000])
def test_stt_recognizer_other_sample_rates(engine: Engine, speech: Speech, rate: int) -> None:
    rec = Recognizer(engine, RecognizerOptions(sample_rate=rate, endpointing_ms=25))
    pcm = np.concatenate([silence(0.3, rate), speech("call my mother", rate), silence(0.5, rate)])
    assert texts(feed(rec, pcm, chunk=rate // 20)) == ["call my mother"]


def test_stt_recognizer_two_commands_in_one_turn(engine: Engine, speech: Speech) -> None:
    rec = Recognizer(engine, RecognizerOptions(sample_rate=16000, endpointing_ms=300))
    pcm = np.concatenate([speech("turn off the lights close the door"), silence(0.5)])
    assert texts(feed(rec, pcm)) == ["turn off the lights close the door"]


def test_stt_recognizer_interims_vad_and_utterance_end(engine: Engine, speech: Speech) -> None:
    options = RecognizerOptions(
        sample_rate=16000,
        interim_results=True,
        vad_events=True,
        endpointing_ms=25,
        utterance_end_ms=1000,
    )
    rec = Recognizer(engine, options)
    phrase = "set a timer for five minutes"
    events = feed(rec, np.concatenate([silence(0.5), speech(phrase), silence(1.5)]))
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "SpeechStartedEvent"
    assert kinds[-1] == "UtteranceEndEvent"
    started = events[0]
    assert isinstance(started, SpeechStartedEvent) and 0.4 <= started.timestamp <= 0.6
    interims = [e for e in events if isinstance(e, TranscriptEvent) and not e.is_final]
    assert len(interims) >= 2
    assert all(phrase.startswith(e.text.split()[0]) for e in interims)
    [final] = finals(events)
    assert kinds.index("TranscriptEvent") < events.index(final)  # interims come first
    assert final.text == phrase
    end = events[-1]
    assert isinstance(end, UtteranceEndEvent) and end.last_word_end == final.words[-1].end


def test_stt_recognizer_finalize_mid_speech(engine: Engine, speech: Speech) -> None:
    rec = Recognizer(engine, RecognizerOptions(sample_rate=16000, endpointing_ms=25))
    events = feed(rec, np.concatenate([silence(0.2), trimmed(speech("tell me a joke"))]))
    assert finals(events) == []
    [final] = rec.finalize()
    assert isinstance(final, TranscriptEvent)
    assert (final.text, final.is_final, final.from_finalize) == ("tell me a joke", True, True)
    assert not final.speech_final
    # a fresh utterance afterwards, with times continuing from the first
    later = feed(rec, np.concatenate([speech("good night"), silence(0.5)]))
    [second] = finals(later)
    assert second.text == "good night"
    assert second.start == pytest.approx(final.start + final.duration)
    assert second.words[0].start >= final.words[-1].end


def interims_of(events: list[Event]) -> list[TranscriptEvent]:
    return [e for e in events if isinstance(e, TranscriptEvent) and not e.is_final]


def test_stt_recognizer_behind_drops_interims_not_the_final(engine: Engine, speech: Speech) -> None:
    """A caller behind real time pushes with interims=False: the utterance in progress
    gets no more interims, its final is the same, and the next one has interims again."""
    options = RecognizerOptions(sample_rate=16000, interim_results=True, endpointing_ms=25)
    phrase = "set a timer for five minutes"
    pcm = np.concatenate([silence(0.3), trimmed(speech(phrase))])
    half = pcm.size // 2
    rec = Recognizer(engine, options)
    before = feed(rec, pcm[:half])
    assert interims_of(before) != []
    data = np.concatenate([pcm[half:], silence(0.5)]).astype("<i2").tobytes()
    behind = rec.push(data, interims=False)  # the rest at once, as a merged backlog
    assert interims_of(behind) == []
    assert [e.text for e in finals(behind)] == [phrase]
    assert rec.interims_shed == 1
    again = feed(rec, np.concatenate([speech("good night"), silence(0.5)]))
    assert interims_of(again) != [] and texts(again) == ["good night"]
    assert rec.interims_shed == 1


def test_stt_recognizer_behind_from_the_start_has_no_interims(
    engine: Engine, speech: Speech
) -> None:
    options = RecognizerOptions(sample_rate=16000, interim_results=True, endpointing_ms=25)
    rec = Recognizer(engine, options)
    data = np.concatenate([silence(0.3), speech("call my mother")]).astype("<i2").tobytes()
    events = rec.push(data, interims=False) + rec.finalize()
    assert interims_of(events) == []
    assert texts(events) == ["call my mother"]
    assert rec.interims_shed == 1


def test_stt_recognizer_finalize_without_speech_is_empty(engine: Engine) -> None:
    rec = Recognizer(engine, RecognizerOptions(sample_rate=16000))
    feed(rec, silence(0.4))
    [final] = rec.finalize()
    assert isinstance(final, TranscriptEvent)
    assert (final.text, final.from_finalize, final.duration) == ("", True, 0.4)


def test_stt_recognizer_endpointing_disabled(engine: Engine, speech: Speech) -> None:
    options = RecognizerOptions(sample_rate=16000, endpointing_ms=None)
    rec = Recognizer(engine, options)
    events = feed(rec, np.concatenate([speech("open the door"), silence(0.5)]))
    assert finals(events) == []  # 0.5 s of silence: still one segment
    events = feed(rec, silence(1.0))
    [final] = finals(events)
    assert (final.text, final.speech_final) == ("open the door", False)


def test_stt_recognizer_close_flushes_pending_speech(engine: Engine, speech: Speech) -> None:
    rec = Recognizer(engine, RecognizerOptions(sample_rate=16000))
    pcm = trimmed(speech("stop the music"))
    assert finals(feed(rec, pcm)) == []
    [final] = rec.close()
    assert isinstance(final, TranscriptEvent) and final.text == "stop the music"
    assert rec.audio_seconds == pytest.approx(pcm.size / 16000)


def test_stt_recognizer_is_deterministic_across_chunkings(engine: Engine, speech: Speech) -> None:
    pcm = np.concatenate([silence(0.2), speech("red green blue", 48000), silence(0.5, 48000)])
    runs = []
    for chunk in (480, 2400, 7777):
        options = RecognizerOptions(sample_rate=48000, interim_results=True, vad_events=True)
        rec = Recognizer(engine, options)
        runs.append(feed(rec, pcm, chunk=chunk) + rec.finalize())
    assert runs[0] == runs[1] == runs[2]
    assert texts(runs[0]) == ["red green blue"]


def test_stt_recognizer_odd_byte_boundaries(engine: Engine, speech: Speech) -> None:
    data = np.concatenate([speech("thank you"), silence(0.5)]).astype("<i2").tobytes()
    rec = Recognizer(engine, RecognizerOptions(sample_rate=16000))
    events: list[Event] = []
    for i in range(0, len(data), 999):  # odd sizes split samples across calls
        events += rec.push(data[i : i + 999])
    assert texts(events) == ["thank you"]


def test_stt_user_grammar_file(tmp_path: Path, speech: Speech) -> None:
    grammar = tmp_path / "colors.jsgf"
    grammar.write_text(
        "#JSGF V1.0;\ngrammar colors;\npublic <color> = red | green | blue | yellow;\n"
    )
    engine = Engine(build_spec(grammar_path=grammar))
    assert engine.spec.name == "grammar:colors.jsgf"
    rec = Recognizer(engine, RecognizerOptions(sample_rate=16000))
    assert texts(feed(rec, np.concatenate([speech("yellow"), silence(0.5)]))) == ["yellow"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("this is not jsgf", "invalid JSGF"),
        ("#JSGF V1.0;\ngrammar g;\npublic <x> = zzyzxqq;\n", "zzyzxqq"),
    ],
)
def test_stt_user_grammar_errors_are_clear(tmp_path: Path, body: str, needle: str) -> None:
    grammar = tmp_path / "bad.jsgf"
    grammar.write_text(body)
    with pytest.raises(EngineError, match=needle):
        build_spec(grammar_path=grammar)


def test_stt_free_vocabulary_decodes_something(speech: Speech) -> None:
    engine = Engine(build_spec("free"))
    rec = Recognizer(engine, RecognizerOptions(sample_rate=16000))
    [final] = finals(feed(rec, np.concatenate([speech("open the door"), silence(0.5)])))
    assert "door" in final.text.split()  # the general LM is rough on espeak; words, not WER


def test_stt_recycled_decoders_equal_new_ones(engine: Engine, speech: Speech) -> None:
    """Decoders are reused with reinit_feat(): results must be those of new decoders."""
    phrases = PHRASES[:6]
    fresh = [Engine(engine.spec).decode(speech(p), offset=0.0) for p in phrases]
    recycling = Engine(engine.spec)
    got = []
    for phrase in phrases:
        partial = recycling.open_partial(offset=0.0)  # streaming use in between
        partial.feed(speech(PHRASES[-1]))
        assert partial.hypothesis().text
        partial.close()
        got.append(recycling.decode(speech(phrase), offset=0.0))
    assert got == fresh  # words, times and confidences, exactly
    assert [h.text for h in got] == list(phrases)
    assert len(recycling._idle) == 1  # one decoder served every utterance


def test_stt_recognizer_caps_utterance_length(engine: Engine, speech: Speech) -> None:
    options = RecognizerOptions(sample_rate=16000, endpointing_ms=None, max_utterance_ms=1000)
    rec = Recognizer(engine, options)
    events = feed(rec, trimmed(speech("one two three four five what time is it")))
    capped = finals(events)
    assert len(capped) >= 2  # ~2.5 s of speech in segments of at most 1 s
    assert all(not e.speech_final and e.duration <= 1.3 for e in capped)
    assert capped[1].start == pytest.approx(capped[0].start + capped[0].duration)


class CountingEngine(Engine):
    """The real engine, counting whole-utterance decodes."""

    def __init__(self) -> None:
        super().__init__(build_spec("commands"))
        self.decodes = 0

    def decode(self, pcm: np.ndarray, *, offset: float):  # type: ignore[no-untyped-def]
        self.decodes += 1
        return super().decode(pcm, offset=offset)


@pytest.mark.parametrize("pause_s", [0.05, 0.15, 0.19])
def test_stt_recognizer_decodes_the_final_ahead_with_the_same_result(
    speech: Speech, pause_s: float
) -> None:
    """A Finalize in the pause after the speech (before the endpoint) gets the same final
    as without decoding ahead, with the decode done before it once 100 ms of silence
    followed the speech."""
    pcm = np.concatenate([silence(0.3), trimmed(speech("turn on the lights")), silence(pause_s)])
    results = {}
    for ahead in (False, True):
        counting = CountingEngine()
        options = RecognizerOptions(sample_rate=16000, endpointing_ms=25, decode_ahead=ahead)
        rec = Recognizer(counting, options)
        assert finals(feed(rec, pcm, chunk=160)) == []
        before = counting.decodes
        ready = rec.decoded_ahead
        results[ahead] = (rec.finalize(), ready, counting.decodes - before)
    assert results[True][0] == results[False][0]
    assert texts(results[True][0]) == ["turn on the lights"]
    assert results[False][1:] == (False, 1)
    # 100 ms of silence fix what the final decodes (speech + _TAIL_FRAMES)
    assert results[True][1:] == ((True, 0) if pause_s >= 0.1 else (False, 1))


def test_stt_recognizer_speech_after_a_pause_is_decoded_again(speech: Speech) -> None:
    """A pause long enough to decode ahead, then more speech: the final has every word."""
    counting = CountingEngine()
    rec = Recognizer(counting, RecognizerOptions(sample_rate=16000, endpointing_ms=300))
    first = trimmed(speech("turn off the lights"))
    feed(rec, np.concatenate([silence(0.2), first, silence(0.15)]), chunk=160)
    assert rec.decoded_ahead and counting.decodes == 1
    feed(rec, trimmed(speech("close the door")), chunk=160)
    assert not rec.decoded_ahead
    assert texts(rec.finalize()) == ["turn off the lights close the door"]
    assert counting.decodes == 2


def test_stt_recognizer_endpoint_final_uses_the_decode_ahead(speech: Speech) -> None:
    counting = CountingEngine()
    rec = Recognizer(counting, RecognizerOptions(sample_rate=16000, endpointing_ms=25))
    events = feed(rec, np.concatenate([silence(0.2), speech("good night"), silence(0.5)]))
    assert texts(events) == ["good night"]
    assert counting.decodes == 1
