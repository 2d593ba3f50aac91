"""STT service: many simultaneous streams, each transcribed correctly."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pytest
from websockets.asyncio.client import connect

from stt_service.commands import PHRASES
from stt_service.config import Settings
from stt_service.testing import ServiceThread, silence, synthesize

pytestmark = pytest.mark.unit

RATE = 48000


@pytest.fixture(scope="module")
def service() -> Iterator[ServiceThread]:
    with ServiceThread(Settings(workers=2)) as svc:
        yield svc


async def transcribe(url: str, pcm: np.ndarray) -> tuple[list[str], list[str]]:
    """Stream ``pcm`` in 20 ms frames, then CloseStream; return (finals, message types)."""
    data = pcm.astype("<i2").tobytes()
    frame = RATE // 50 * 2
    finals: list[str] = []
    kinds: list[str] = []
    async with connect(url, proxy=None, open_timeout=30) as ws:

        async def send() -> None:
            for i in range(0, len(data), frame):
                await ws.send(data[i : i + frame])
            await ws.send(json.dumps({"type": "CloseStream"}))

        sender = asyncio.create_task(send())
        async for message in ws:
            msg = json.loads(message)
            kinds.append(msg["type"])
            if msg["type"] == "Results" and msg["is_final"]:
                text = msg["channel"]["alternatives"][0]["transcript"]
                if text:
                    finals.append(text)
        await sender
        assert ws.close_code == 1000
    return finals, kinds


@pytest.mark.slow
async def test_stt_twenty_concurrent_streams(service: ServiceThread, tmp_path: Path) -> None:
    phrases = list(PHRASES[:20])
    assert len(set(phrases)) == 20
    lead, tail = silence(0.3, RATE), silence(0.6, RATE)
    audio = [
        np.concatenate([lead, synthesize(p, tmp_path, sample_rate=RATE), tail]) for p in phrases
    ]
    query = urlencode(
        {"encoding": "linear16", "sample_rate": RATE, "interim_results": "true", "channels": 1}
    )
    async with asyncio.timeout(120):
        results = await asyncio.gather(*(transcribe(f"{service.url}?{query}", a) for a in audio))
    for phrase, (finals, kinds) in zip(phrases, results, strict=True):
        assert finals == [phrase]
        assert kinds[-1] == "Metadata"
        assert "Results" in kinds[:-1]
    assert await asyncio.to_thread(service.stream_count) == 0
