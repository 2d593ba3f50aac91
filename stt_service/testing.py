"""Helpers for tests and benchmarks: espeak-ng speech and a service running in a thread.

Not used by the service itself. Other packages' tests may use them to run the STT
service in-process (``ServiceThread``) and to make speech (``synthesize``).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
import wave
from pathlib import Path
from types import TracebackType

import numpy as np

from .app import Server, build_server
from .config import Settings
from .engine import EngineSpec
from .resample import StreamResampler

ESPEAK = shutil.which("espeak-ng") or "/usr/bin/espeak-ng"


def synthesize(text: str, directory: Path, *, sample_rate: int = 16000) -> np.ndarray:
    """Speak ``text`` with ``espeak-ng -v en-us`` and return int16 mono at ``sample_rate``."""
    path = directory / f"{abs(hash(text)):x}.wav"
    subprocess.run([ESPEAK, "-v", "en-us", "-w", str(path), text], check=True, capture_output=True)
    with wave.open(str(path)) as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    path.unlink()
    if rate == sample_rate:
        return pcm.copy()
    resampler = StreamResampler(rate, sample_rate)
    # pad so the resampler's look-ahead releases the last samples
    return np.concatenate([resampler.process(pcm), resampler.process(np.zeros(rate // 10, "<i2"))])


def silence(seconds: float, sample_rate: int = 16000) -> np.ndarray:
    """Digital silence, as a client flushing with zeros sends."""
    return np.zeros(int(seconds * sample_rate), dtype=np.int16)


class ServiceThread:
    """Run the service on 127.0.0.1 (a free port) in a thread with its own event loop.

    Use as a context manager; ``url`` is the websocket endpoint once entered.
    """

    def __init__(self, settings: Settings | None = None, *, spec: EngineSpec | None = None) -> None:
        base = settings or Settings(workers=2)
        self.settings = base.replace(host="127.0.0.1", port=0)
        self._spec = spec
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.port

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:<port>/v1/listen``"""
        return f"ws://127.0.0.1:{self.port}/v1/listen"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServiceThread:
        self._server = build_server(self.settings, spec=self._spec)
        self._thread = threading.Thread(target=self._run, name="stt-service", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=60)
        if self._error is not None or not self._server.started:
            self.__exit__(None, None, None)
            raise RuntimeError("STT service did not start") from self._error
        return self

    def _run(self) -> None:
        assert self._server is not None
        server = self._server
        original = server.startup

        async def startup(sockets: object = None) -> None:
            self._loop = asyncio.get_running_loop()
            try:
                await original(sockets)
            finally:
                self._ready.set()

        server.startup = startup  # type: ignore[method-assign]
        try:
            asyncio.run(server.serve())
        except BaseException as e:  # reported to the thread that waits in __enter__
            self._error = e
        finally:
            self._ready.set()

    def stream_count(self) -> int:
        """Recognizers alive in the decoder workers (0 once every stream is gone)."""
        assert self._server is not None and self._loop is not None
        pool = self._server.app.state.pool
        return asyncio.run_coroutine_threadsafe(pool.stream_count(), self._loop).result(10)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)
