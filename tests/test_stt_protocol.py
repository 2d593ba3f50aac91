"""STT service: query parsing, control messages and server message shapes (pure functions)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from stt_service.commands import PHRASES, build_grammar
from stt_service.config import ConfigError, Settings
from stt_service.events import SpeechStartedEvent, TranscriptEvent, UtteranceEndEvent, Word
from stt_service.protocol import (
    Control,
    ControlError,
    ModelInfo,
    ParamError,
    metadata_message,
    parse_control,
    parse_stream_params,
    results_message,
    speech_started_message,
    utterance_end_message,
)

pytestmark = pytest.mark.unit

# What livekit-plugins-deepgram 1.8.9 sends (see SpeechStream._connect_ws).
PLUGIN_QUERY = {
    "model": "nova-3",
    "punctuate": "true",
    "smart_format": "false",
    "no_delay": "true",
    "interim_results": "true",
    "encoding": "linear16",
    "vad_events": "true",
    "sample_rate": "48000",
    "channels": "1",
    "endpointing": "25",
    "filler_words": "true",
    "profanity_filter": "false",
    "numerals": "false",
    "mip_opt_out": "false",
    "language": "en-US",
}


def test_stt_params_accept_the_plugin_query() -> None:
    params = parse_stream_params(PLUGIN_QUERY)
    assert params.sample_rate == 48000
    assert params.interim_results is True
    assert params.vad_events is True
    assert params.endpointing_ms == 25
    assert params.utterance_end_ms is None
    assert params.language == "en-US"


def test_stt_params_defaults_follow_deepgram() -> None:
    params = parse_stream_params({"encoding": "linear16", "sample_rate": "16000"})
    assert params.endpointing_ms == 10
    assert params.interim_results is False
    assert params.vad_events is False


@pytest.mark.parametrize(
    ("value", "expected"), [("false", None), ("true", 10), ("300", 300), ("0", 0)]
)
def test_stt_params_endpointing_forms(value: str, expected: int | None) -> None:
    query = {"encoding": "linear16", "sample_rate": "16000", "endpointing": value}
    assert parse_stream_params(query).endpointing_ms == expected


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"encoding": "opus"}, "encoding=opus"),
        ({"encoding": None}, "encoding is required"),
        ({"sample_rate": None}, "sample_rate is required"),
        ({"sample_rate": "96000"}, "sample_rate=96000"),
        ({"sample_rate": "4000"}, "sample_rate=4000"),
        ({"sample_rate": "fast"}, "not an integer"),
        ({"channels": "2"}, "channels=2"),
        ({"language": "fr"}, "language=fr"),
        ({"language": "multi"}, "language=multi"),
        ({"interim_results": "yes"}, "interim_results=yes"),
        ({"endpointing": "-5"}, "endpointing=-5"),
        ({"utterance_end_ms": "0"}, "utterance_end_ms=0"),
    ],
)
def test_stt_params_refuse_with_a_reason(change: dict[str, str | None], needle: str) -> None:
    query = dict(PLUGIN_QUERY)
    for key, value in change.items():
        if value is None:
            query.pop(key)
        else:
            query[key] = value
    with pytest.raises(ParamError) as info:
        parse_stream_params(query)
    assert needle in info.value.reason


@pytest.mark.parametrize("language", ["en", "en-US", "en-GB", "en-AU", "en-IN"])
def test_stt_params_accept_english_variants(language: str) -> None:
    query = {"encoding": "linear16", "sample_rate": "16000", "language": language}
    assert parse_stream_params(query).language == language


@pytest.mark.parametrize("kind", ["KeepAlive", "Finalize", "CloseStream"])
def test_stt_control_messages_parse(kind: str) -> None:
    assert parse_control(json.dumps({"type": kind})) is Control(kind)


@pytest.mark.parametrize(
    ("text", "variant"),
    [
        ("not json", "INVALID_JSON"),
        ("[1, 2]", "INVALID_MESSAGE"),
        ('{"kind": "Finalize"}', "INVALID_MESSAGE"),
        ('{"type": "Flush"}', "UNKNOWN_MESSAGE_TYPE"),
    ],
)
def test_stt_control_rejects_malformed(text: str, variant: str) -> None:
    with pytest.raises(ControlError) as info:
        parse_control(text)
    assert info.value.variant == variant


MODEL = ModelInfo(name="pocketsphinx-commands", version="5.1.1")


def test_stt_results_message_has_every_field_the_plugin_reads() -> None:
    event = TranscriptEvent(
        start=0.0,
        duration=1.5,
        is_final=True,
        speech_final=True,
        from_finalize=False,
        text="hello agent",
        confidence=0.9,
        words=(Word("hello", 0.2, 0.6, 0.9), Word("agent", 0.6, 1.1, 0.9)),
    )
    msg = json.loads(json.dumps(results_message(event, request_id="r1", model=MODEL)))
    assert msg["type"] == "Results"
    assert msg["metadata"]["request_id"] == "r1"
    assert msg["metadata"]["model_info"]["name"] == "pocketsphinx-commands"
    assert (msg["is_final"], msg["speech_final"], msg["from_finalize"]) == (True, True, False)
    assert (msg["start"], msg["duration"]) == (0.0, 1.5)
    alt = msg["channel"]["alternatives"][0]
    assert alt["transcript"] == "hello agent"
    assert alt["confidence"] == 0.9
    assert [w["word"] for w in alt["words"]] == ["hello", "agent"]
    assert alt["words"][1] == {
        "word": "agent",
        "start": 0.6,
        "end": 1.1,
        "confidence": 0.9,
        "punctuated_word": "agent",
    }


def test_stt_vad_and_metadata_messages() -> None:
    assert speech_started_message(SpeechStartedEvent(1.25)) == {
        "type": "SpeechStarted",
        "channel": [0, 1],
        "timestamp": 1.25,
    }
    assert utterance_end_message(UtteranceEndEvent(2.5))["last_word_end"] == 2.5
    meta = metadata_message(
        request_id="r1",
        created=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        duration=3.14159,
        sha256="ab",
        model=MODEL,
    )
    assert meta["type"] == "Metadata"
    assert meta["created"] == "2024-01-02T03:04:05Z"
    assert meta["duration"] == 3.142
    assert meta["channels"] == 1
    assert meta["models"] == [MODEL.uuid]
    assert meta["model_info"][MODEL.uuid]["version"] == "5.1.1"


def test_stt_grammar_accepts_phrase_sequences() -> None:
    grammar = build_grammar(("hello agent", "open the door"))
    assert "public <utterance> = <phrase>+;" in grammar
    assert "( hello agent )" in grammar
    assert len(PHRASES) >= 20
    assert len(set(PHRASES)) == len(PHRASES)


@pytest.mark.parametrize("phrases", [(), ("Hello Agent",), ("turn on, please",)])
def test_stt_grammar_rejects_bad_phrases(phrases: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):
        build_grammar(phrases)


def test_stt_settings_from_env() -> None:
    settings = Settings.from_env(
        {
            "STT_HOST": "127.0.0.1",
            "STT_PORT": "9999",
            "STT_VOCABULARY": "free",
            "STT_API_KEY": "k",
            "STT_IDLE_TIMEOUT": "2.5",
            "STT_WORKERS": "0",
        }
    )
    assert (settings.port, settings.vocabulary, settings.api_key) == (9999, "free", "k")
    assert (settings.idle_timeout, settings.workers) == (2.5, 0)
    assert Settings.from_env({}).port == 8790


@pytest.mark.parametrize(
    "env",
    [
        {"STT_VOCABULARY": "klingon"},
        {"STT_PORT": "eighty"},
        {"STT_GRAMMAR": "/nonexistent/grammar.jsgf"},
        {"STT_IDLE_TIMEOUT": "0"},
    ],
)
def test_stt_settings_refuse_bad_values(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        Settings.from_env(env)
