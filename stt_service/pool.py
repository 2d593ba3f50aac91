"""Decoder pool: worker processes that host the recognizers, reached from the event loop.

Each worker is a single-process executor, so the calls of one stream run in order on the
process that holds its recognizer. A stream is placed when it is first used (its first
audio or control message), on the worker with the fewest placed streams. A stream that
is connected and silent costs no decoding, so it holds no place: a push-to-talk agent
keeps a standby stream open beside the one it is using, and placing each at connect
time put every session's speaking stream on the same worker (measured: one decoder
process busy, the other idle, while 16 sessions talked). If a worker dies, its streams
fail (their sessions close with 1011) and the worker is replaced for new streams.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import uuid
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from concurrent.futures.thread import BrokenThreadPool
from typing import Any, TypeVar

from . import worker
from .engine import EngineSpec
from .events import Event
from .log import logger
from .recognizer import RecognizerOptions

T = TypeVar("T")


class PoolError(Exception):
    """Decoding is unavailable for this stream (its worker died or the pool is closed)."""


class _Worker:
    def __init__(self, index: int, spec: EngineSpec, *, in_process: bool) -> None:
        self.index = index
        self.spec = spec
        self.in_process = in_process
        self.streams = 0
        self.executor = self._new_executor()

    def _new_executor(self) -> Executor:
        if self.in_process:
            return ThreadPoolExecutor(
                max_workers=1,
                thread_name_prefix="stt-decoder",
                initializer=worker.init,
                initargs=(self.spec,),
            )
        return ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=worker.init,
            initargs=(self.spec,),
        )

    def replace_if(self, broken: Executor) -> None:
        if self.executor is broken:
            logger.warning("decoder worker died, starting a new one", extra={"worker": self.index})
            broken.shutdown(wait=False, cancel_futures=True)
            self.executor = self._new_executor()
            self.streams = 0


class DecoderPool:
    """``workers`` decoder processes (0: one decoder thread in this process)."""

    def __init__(self, spec: EngineSpec, *, workers: int) -> None:
        self.spec = spec
        in_process = workers == 0
        self._workers = [_Worker(i, spec, in_process=in_process) for i in range(max(1, workers))]
        self._closed = False

    async def start(self) -> None:
        """Wait until every worker is running and has built a decoder."""
        pids = await asyncio.gather(*(self._call(w, worker.ping) for w in self._workers))
        logger.debug("decoder workers ready", extra={"pids": pids})

    async def aclose(self) -> None:
        """Stop the workers; pending calls are cancelled."""
        self._closed = True
        for w in self._workers:
            w.executor.shutdown(wait=False, cancel_futures=True)

        def join() -> None:
            for w in self._workers:
                w.executor.shutdown(wait=True)

        await asyncio.to_thread(join)

    async def open_stream(self, options: RecognizerOptions) -> StreamHandle:
        """A stream whose recognizer is created on a worker when it is first used."""
        if self._closed:
            raise PoolError("the decoder pool is closed")
        return StreamHandle(self, options, uuid.uuid4().hex)

    def _least_busy(self) -> _Worker:
        return min(self._workers, key=lambda w: w.streams)

    async def stream_count(self) -> int:
        """Recognizers alive in all workers (for tests: nothing leaks)."""
        counts = await asyncio.gather(*(self._call(w, worker.stream_count) for w in self._workers))
        return sum(counts)

    async def _call(self, target: _Worker, fn: Callable[..., T], *args: Any) -> T:
        executor = target.executor
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)
        except (BrokenProcessPool, BrokenThreadPool) as e:
            if not self._closed:
                target.replace_if(executor)
            raise PoolError("the decoder worker stopped") from e
        except KeyError as e:  # the stream's recognizer is gone (worker replaced)
            raise PoolError("the stream's decoder is gone") from e
        except RuntimeError as e:
            if self._closed:  # "cannot schedule new futures after shutdown"
                raise PoolError("the decoder pool is closed") from e
            raise

    def _release(self, target: _Worker, stream_id: str) -> None:
        target.streams = max(0, target.streams - 1)
        try:
            target.executor.submit(worker.drop, stream_id)
        except (RuntimeError, BrokenProcessPool, BrokenThreadPool):
            pass  # pool shut down or worker gone: the recognizer went with it


class StreamHandle:
    """One stream's recognizer inside a worker, made at the stream's first call. Calls
    must not overlap."""

    def __init__(self, pool: DecoderPool, options: RecognizerOptions, stream_id: str) -> None:
        self.id = stream_id
        self._pool = pool
        self._options = options
        self._worker: _Worker | None = None
        self._released = False

    @property
    def worker_index(self) -> int | None:
        """The worker holding this stream's recognizer (None: not placed yet)."""
        return None if self._worker is None else self._worker.index

    async def push(self, data: bytes, *, interims: bool = True) -> list[Event]:
        """Feed audio; return the events it produced (``interims=False``: drop them)."""
        target = await self._placed()
        return await self._pool._call(target, worker.push, self.id, data, interims)

    async def finalize(self) -> list[Event]:
        """Finalize the current utterance."""
        return await self._pool._call(await self._placed(), worker.finalize, self.id)

    async def close(self) -> tuple[list[Event], float]:
        """Final events and audio duration; the recognizer is freed."""
        if self._worker is None and not self._released:  # never used: nothing to decode
            self.release()
            return [], 0.0
        result = await self._pool._call(await self._placed(), worker.close_stream, self.id)
        self.release()
        return result

    def release(self) -> None:
        """Free the recognizer without waiting (safe to call more than once)."""
        if not self._released:
            self._released = True
            if self._worker is not None:
                self._pool._release(self._worker, self.id)

    async def _placed(self) -> _Worker:
        if self._released:
            raise PoolError("the stream is closed")
        if self._worker is None:
            if self._pool._closed:
                raise PoolError("the decoder pool is closed")
            target = self._pool._least_busy()
            self._worker = target  # set first: a release while opening still frees it
            target.streams += 1
            try:
                await self._pool._call(target, worker.open_stream, self.id, self._options)
            except BaseException:
                self.release()
                raise
        return self._worker
