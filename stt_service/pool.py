"""Decoder pool: worker processes that host the recognizers, reached from the event loop.

Each worker is a single-process executor, so the calls of one stream run in order on the
process that holds its recognizer. A stream is placed when it is first used (its first
audio or control message), on the worker with the fewest placed streams. A stream that
is connected and silent costs no decoding, so it holds no place: a push-to-talk agent
keeps a standby stream open beside the one it is using, and placing each at connect
time put every session's speaking stream on the same worker (measured: one decoder
process busy, the other idle, while 16 sessions talked). If a worker dies, its streams
fail (their sessions close with 1011) and the worker is replaced for new streams.

A worker has at most ``IN_FLIGHT`` calls submitted at a time; the others wait in order
of priority, then arrival. A stream whose Finalize (or CloseStream) is queued sends its
calls as ``URGENT``: a push-to-talk release waits for that final, while the other
streams' calls only bring interims, so under load a final no longer waits for every
other stream's queued audio on its worker to be decoded first.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
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

URGENT, NORMAL = 0, 1  # call priorities, lower first
IN_FLIGHT = 2  # calls submitted to a worker at once: it never waits for the next one


class PoolError(Exception):
    """Decoding is unavailable for this stream (its worker died or the pool is closed)."""


class _Worker:
    def __init__(self, index: int, spec: EngineSpec, *, in_process: bool) -> None:
        self.index = index
        self.spec = spec
        self.in_process = in_process
        self.streams = 0
        self.executor = self._new_executor()
        self._in_flight = 0
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []  # a heap
        self._order = itertools.count()
        self._keyed: dict[str, asyncio.Future[None]] = {}  # calls waiting, by stream

    async def turn(self, priority: int, key: str = "") -> None:
        """Wait until a call may be submitted; pair every return with `done()`. A call
        waiting under `key` can be moved up with `hurry(key)`."""
        if self._in_flight < IN_FLIGHT and not self._waiting:
            self._in_flight += 1
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (priority, next(self._order), granted))
        if key:
            self._keyed[key] = granted
        try:
            await granted  # `done()` counted this call in flight when it granted it
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self.done()  # granted, then cancelled before it could run: pass it on
            raise
        finally:
            if self._keyed.get(key) is granted:
                del self._keyed[key]

    def hurry(self, key: str) -> None:
        """Move the call waiting under `key` (if any) ahead of every NORMAL one."""
        granted = self._keyed.get(key)
        if granted is not None and not granted.done():
            # its old entry stays in the heap and is skipped once this one is granted
            heapq.heappush(self._waiting, (URGENT, next(self._order), granted))

    def done(self) -> None:
        """A submitted call has finished: let the next waiting one go."""
        self._in_flight -= 1
        while self._waiting:
            _, _, granted = heapq.heappop(self._waiting)
            if not granted.done():  # a cancelled waiter's entry is skipped
                self._in_flight += 1
                granted.set_result(None)
                return

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

    async def _call(
        self,
        target: _Worker,
        fn: Callable[..., T],
        *args: Any,
        priority: int = NORMAL,
        key: str = "",
    ) -> T:
        await target.turn(priority, key)
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
        finally:
            target.done()

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
        self._hurried = False  # a final was asked for and has not been answered yet

    @property
    def worker_index(self) -> int | None:
        """The worker holding this stream's recognizer (None: not placed yet)."""
        return None if self._worker is None else self._worker.index

    async def push(
        self, data: bytes, *, interims: bool = True, urgent: bool = False
    ) -> list[Event]:
        """Feed audio; return the events it produced (``interims=False``: drop them;
        ``urgent``: a final is asked for right after it)."""
        target = await self._placed(URGENT if urgent else NORMAL)  # hurried: URGENT there
        priority = URGENT if urgent or self._hurried else NORMAL  # hurried by now, maybe
        return await self._pool._call(
            target, worker.push, self.id, data, interims, priority=priority, key=self.id
        )

    def hurry(self) -> None:
        """A final was just asked for: this stream's calls go ahead of the other
        streams' until it is answered, the one waiting for its worker now (its first
        call, which places it, included) and those after it."""
        self._hurried = True
        if self._worker is not None:
            self._worker.hurry(self.id)

    async def finalize(self) -> list[Event]:
        """Finalize the current utterance."""
        target = await self._placed(URGENT)
        try:
            return await self._pool._call(target, worker.finalize, self.id, priority=URGENT)
        finally:
            self._hurried = False

    async def close(self) -> tuple[list[Event], float]:
        """Final events and audio duration; the recognizer is freed."""
        if self._worker is None and not self._released:  # never used: nothing to decode
            self.release()
            return [], 0.0
        target = await self._placed(URGENT)
        result = await self._pool._call(target, worker.close_stream, self.id, priority=URGENT)
        self.release()
        return result

    def release(self) -> None:
        """Free the recognizer without waiting (safe to call more than once)."""
        if not self._released:
            self._released = True
            if self._worker is not None:
                self._pool._release(self._worker, self.id)

    async def _placed(self, priority: int) -> _Worker:
        if self._released:
            raise PoolError("the stream is closed")
        if self._worker is None:
            if self._pool._closed:
                raise PoolError("the decoder pool is closed")
            target = self._pool._least_busy()
            self._worker = target  # set first: a release while opening still frees it
            target.streams += 1
            try:
                await self._pool._call(
                    target,
                    worker.open_stream,
                    self.id,
                    self._options,
                    priority=URGENT if self._hurried else priority,
                    key=self.id,
                )
            except BaseException:
                self.release()
                raise
        return self._worker
