"""STT service over a raw websocket: Deepgram messages, refusals, limits and lifecycle."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from stt_service.config import Settings
from stt_service.testing import ServiceThread, silence, synthesize

pytestmark = pytest.mark.unit

Speech = Callable[..., bytes]
TOKEN = "sekrit"


@pytest.fixture(scope="module")
def service() -> Iterator[ServiceThread]:
    with ServiceThread(Settings(workers=2)) as svc:
        yield svc


@pytest.fixture(scope="module")
def strict_service() -> Iterator[ServiceThread]:
    """An API key and a short idle timeout."""
    with ServiceThread(Settings(workers=1, api_key=TOKEN, idle_timeout=0.5)) as svc:
        yield svc


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Speech:
    """16 kHz PCM16LE bytes: 0.2 s of silence, a phrase, then ``tail`` seconds of silence
    (the default 0.5 s makes an endpoint; 0 leaves the utterance open)."""
    directory = tmp_path_factory.mktemp("speech")
    cache: dict[str, np.ndarray] = {}

    def make(text: str, tail: float = 0.5) -> bytes:
        if text not in cache:
            pcm = synthesize(text, directory)
            cache[text] = pcm[: int(np.nonzero(np.abs(pcm) > 100)[0][-1]) + 1]  # no espeak tail
        pcm = np.concatenate([silence(0.2), cache[text], silence(tail)])
        return pcm.astype("<i2").tobytes()

    return make


def listen_url(svc: ServiceThread, **params: Any) -> str:
    query = {"encoding": "linear16", "sample_rate": 16000, **params}
    return f"{svc.url}?{urlencode(query)}"


def open_ws(url: str, token: str | None = None) -> connect:
    headers = {"Authorization": f"Token {token}"} if token else None
    return connect(url, additional_headers=headers, proxy=None, open_timeout=20)


async def send_audio(ws: ClientConnection, data: bytes, chunk: int = 3200) -> None:
    for i in range(0, len(data), chunk):
        await ws.send(data[i : i + chunk])


async def recv_json(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(30):
        message = await ws.recv()
    assert isinstance(message, str)
    data: dict[str, Any] = json.loads(message)
    return data


async def collect_until(
    ws: ClientConnection, done: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    messages = []
    while True:
        messages.append(await recv_json(ws))
        if done(messages[-1]):
            return messages


def transcript(msg: dict[str, Any]) -> str:
    text: str = msg["channel"]["alternatives"][0]["transcript"]
    return text


def is_final_with_text(msg: dict[str, Any]) -> bool:
    return msg["type"] == "Results" and msg["is_final"] and bool(transcript(msg))


async def closed_with(ws: ClientConnection) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as info:
        async with asyncio.timeout(30):
            while True:
                await ws.recv()
    assert info.value.rcvd is not None
    return info.value.rcvd.code, info.value.rcvd.reason


def test_stt_ws_healthz(service: ServiceThread) -> None:
    response = httpx.get(f"{service.http_url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"encoding": "opus"}, "encoding=opus"),
        ({"channels": 2}, "channels=2"),
        ({"sample_rate": 96000}, "sample_rate=96000"),
        ({"sample_rate": 4000}, "sample_rate=4000"),
        ({"language": "de"}, "language=de"),
    ],
)
async def test_stt_ws_refuses_bad_params_with_400(
    service: ServiceThread, params: dict[str, Any], needle: str
) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with open_ws(listen_url(service, **params)):
            pass
    response = info.value.response
    assert response.status_code == 400
    body = json.loads(response.body or b"{}")
    assert needle in body["reason"]
    assert body["err_code"] == "INVALID_QUERY_PARAMETER"


@pytest.mark.parametrize("token", [None, "wrong"])
async def test_stt_ws_refuses_bad_token_with_401(
    strict_service: ServiceThread, token: str | None
) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with open_ws(listen_url(strict_service), token):
            pass
    assert info.value.response.status_code == 401
    assert json.loads(info.value.response.body or b"{}")["err_code"] == "INVALID_AUTH"


async def test_stt_ws_accepts_the_right_token(strict_service: ServiceThread) -> None:
    async with open_ws(listen_url(strict_service), TOKEN) as ws:
        await ws.send(json.dumps({"type": "CloseStream"}))
        meta = await recv_json(ws)
        assert meta["type"] == "Metadata"
        assert await closed_with(ws) == (1000, "")


async def test_stt_ws_malformed_text_gets_an_error_and_stays_usable(
    service: ServiceThread, speech: Speech
) -> None:
    async with open_ws(listen_url(service)) as ws:
        await ws.send("this is not json")
        error = await recv_json(ws)
        assert error["type"] == "Error"
        assert error["variant"] == "INVALID_JSON"
        assert error["description"] and error["message"]
        await ws.send(json.dumps({"type": "Flush"}))
        error = await recv_json(ws)
        assert (error["type"], error["variant"]) == ("Error", "UNKNOWN_MESSAGE_TYPE")
        assert "Flush" in error["description"]
        await send_audio(ws, speech("hello agent"))
        messages = await collect_until(ws, is_final_with_text)
        assert transcript(messages[-1]) == "hello agent"


async def test_stt_ws_oversized_frame_closes_1009(service: ServiceThread) -> None:
    limit = service.settings.max_frame_bytes
    async with open_ws(listen_url(service)) as ws:
        await ws.send(bytes(limit + 2))
        code, reason = await closed_with(ws)
    assert code == 1009
    assert str(limit) in reason


async def test_stt_ws_frame_beyond_the_transport_limit_also_closes_1009(
    service: ServiceThread,
) -> None:
    async with open_ws(listen_url(service)) as ws:
        try:
            await ws.send(bytes(2 * service.settings.max_frame_bytes + 2))
        except ConnectionClosed as e:
            # the service may close before the client has finished writing the frame
            assert e.rcvd is not None
            code = e.rcvd.code
        else:
            code, _ = await closed_with(ws)
    assert code == 1009


async def test_stt_ws_idle_stream_closes_1011_net0001(strict_service: ServiceThread) -> None:
    async with open_ws(listen_url(strict_service), TOKEN) as ws:
        code, reason = await closed_with(ws)
    assert code == 1011
    assert "NET-0001" in reason and "timeout" in reason


async def test_stt_ws_keepalive_prevents_the_idle_close(strict_service: ServiceThread) -> None:
    async with open_ws(listen_url(strict_service), TOKEN) as ws:
        for _ in range(6):  # 1.2 s in all, idle timeout 0.5 s
            await ws.send(json.dumps({"type": "KeepAlive"}))
            await asyncio.sleep(0.2)
        await ws.send(json.dumps({"type": "Finalize"}))
        result = await recv_json(ws)
        assert (result["type"], result["from_finalize"]) == ("Results", True)


async def test_stt_ws_finalize_returns_a_from_finalize_final(
    service: ServiceThread, speech: Speech
) -> None:
    async with open_ws(listen_url(service, interim_results="true")) as ws:
        await send_audio(ws, speech("what time is it", tail=0))
        await ws.send(json.dumps({"type": "Finalize"}))
        messages = await collect_until(ws, lambda m: m.get("from_finalize", False))
        final = messages[-1]
        assert final["is_final"] is True
        assert final["speech_final"] is False
        assert transcript(final) == "what time is it"
        assert all(not m["is_final"] for m in messages[:-1])
        # the stream goes on with a fresh utterance
        await send_audio(ws, speech("repeat that"))
        await ws.send(json.dumps({"type": "Finalize"}))
        messages = await collect_until(ws, lambda m: m.get("from_finalize", False))
        finals = [transcript(m) for m in messages if m["type"] == "Results" and m["is_final"]]
        assert [t for t in finals if t] == ["repeat that"]


@pytest.mark.parametrize(("shed_after_ms", "interims"), [(0, False), (-1, True)])
async def test_stt_ws_a_stream_behind_gets_its_final_without_interims(
    speech: Speech, shed_after_ms: int, interims: bool
) -> None:
    """STT_SHED_INTERIMS_AFTER_MS=0 treats every wait for a decode as being behind: no
    interim result, the same final. -1 never sheds."""
    settings = Settings(workers=1, shed_interims_after_ms=shed_after_ms)
    with ServiceThread(settings) as svc:
        async with open_ws(listen_url(svc, interim_results="true")) as ws:
            await send_audio(ws, speech("set a timer for five minutes", tail=0))
            await ws.send(json.dumps({"type": "Finalize"}))
            messages = await collect_until(ws, lambda m: m.get("from_finalize", False))
    assert transcript(messages[-1]) == "set a timer for five minutes"
    got_interims = any(m["type"] == "Results" and not m["is_final"] for m in messages)
    assert got_interims is interims


async def test_stt_ws_close_stream_sends_results_metadata_then_1000(
    service: ServiceThread, speech: Speech
) -> None:
    async with open_ws(listen_url(service, endpointing="false")) as ws:
        request_id = ws.response.headers["dg-request-id"]
        audio = speech("play some music")
        await send_audio(ws, audio)
        await ws.send(json.dumps({"type": "CloseStream"}))
        messages = await collect_until(ws, lambda m: m["type"] == "Metadata")
        code, _ = await closed_with(ws)
    results, metadata = messages[:-1], messages[-1]
    assert [transcript(m) for m in results if m["is_final"]] == ["play some music"]
    assert results[-1]["speech_final"] is True
    assert results[-1]["metadata"]["request_id"] == request_id
    assert metadata["request_id"] == request_id
    assert metadata["duration"] == pytest.approx(len(audio) / 2 / 16000, abs=0.01)
    assert metadata["channels"] == 1
    assert code == 1000


async def test_stt_ws_vad_events_and_utterance_end(service: ServiceThread, speech: Speech) -> None:
    url = listen_url(service, vad_events="true", utterance_end_ms=1000, endpointing=100)
    async with open_ws(url) as ws:
        await send_audio(ws, speech("start the engine") + silence(1.0).tobytes())
        messages = await collect_until(ws, lambda m: m["type"] == "UtteranceEnd")
    kinds = [m["type"] for m in messages]
    assert kinds[0] == "SpeechStarted"
    assert kinds.count("UtteranceEnd") == 1
    final = next(m for m in messages if m["type"] == "Results" and m["is_final"])
    assert transcript(final) == "start the engine"
    assert final["speech_final"] is True
    words = final["channel"]["alternatives"][0]["words"]
    assert messages[-1]["last_word_end"] == words[-1]["end"]
    assert 0.1 <= messages[0]["timestamp"] <= 0.4


async def test_stt_ws_vanishing_client_frees_its_decoder(
    service: ServiceThread, speech: Speech
) -> None:
    async with open_ws(listen_url(service, interim_results="true")) as ws:
        audio = speech("turn on the lights", tail=0)
        await send_audio(ws, audio[: len(audio) // 2])
        assert ws.transport is not None
        ws.transport.abort()  # no close frame: the client just disappears
    # the next client is served as usual
    async with open_ws(listen_url(service)) as ws:
        await send_audio(ws, speech("open the door"))
        messages = await collect_until(ws, is_final_with_text)
        assert transcript(messages[-1]) == "open the door"
        await ws.send(json.dumps({"type": "CloseStream"}))
        await collect_until(ws, lambda m: m["type"] == "Metadata")
    async with asyncio.timeout(10):  # the server notices the abort asynchronously
        while await asyncio.to_thread(service.stream_count) != 0:
            await asyncio.sleep(0.05)
