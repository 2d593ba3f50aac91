"""Bounded waits for SDK completions: a lost completion costs `within`, never forever."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from agent.ffi_acks import AckWaits, within_rpc_deadline

pytestmark = pytest.mark.unit


class NeverCompletes:
    """A call whose completion never comes (what the SDK does about 1 in 400
    set_attributes); records that it started and that its waiter was cancelled."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = asyncio.Event()

    async def __call__(self) -> None:
        self.started.set()
        try:
            await asyncio.Future()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise


async def test_a_completion_that_never_comes_is_given_up_counted_and_its_waiter_cancelled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    call = NeverCompletes()
    acks = AckWaits(within=0.05)
    with caplog.at_level(logging.WARNING, logger="ptt-agent.ffi"):
        assert await acks.wait("set_attributes", call()) is False
    assert call.started.is_set()
    await asyncio.wait_for(call.cancelled.wait(), 1)
    assert acks.unacknowledged == {"set_attributes": 1}
    assert "did not acknowledge" in caplog.text and "set_attributes" in caplog.records[0].request


async def test_a_completed_call_is_true_and_a_failing_one_raises() -> None:
    acks = AckWaits(within=1.0)

    async def ok() -> str:
        return "info"

    async def fails() -> None:
        raise RuntimeError("refused by the server")

    assert await acks.wait("send_text", ok()) is True
    with pytest.raises(RuntimeError, match="refused"):
        await acks.wait("set_attributes", fails())
    assert acks.unacknowledged == {}


async def test_a_cancelled_caller_cancels_the_call_too() -> None:
    call = NeverCompletes()
    waiter = asyncio.ensure_future(AckWaits(within=30).wait("set_attributes", call()))
    await call.started.wait()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await asyncio.wait_for(call.cancelled.wait(), 1)


async def test_a_call_failing_after_its_wait_ended_leaves_no_unretrieved_exception(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()

    async def fails_late() -> None:
        try:
            await release.wait()
        except asyncio.CancelledError:
            pass  # the SDK's callback arrived as we cancelled: the call still fails
        raise RuntimeError("internal error")

    loop = asyncio.get_running_loop()
    unretrieved: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _loop, context: unretrieved.append(context))
    try:
        assert await AckWaits(within=0.05).wait("send_text", fails_late()) is False
        await asyncio.sleep(0.05)
        gc.collect()  # a never-retrieved exception is reported when its task is freed
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(None)
    assert unretrieved == []


async def test_inside_an_rpc_a_lost_completion_still_lets_the_handler_answer_in_time() -> None:
    """The caller's SDK cancels a handler at its deadline (the caller then sees 1502):
    the wait for a lost completion must end first, however long `within` is."""
    acks = AckWaits(within=60.0)

    async def handler() -> str:
        with within_rpc_deadline(0.5):
            await acks.wait("set_attributes", NeverCompletes()())
        return "resumed"

    assert await asyncio.wait_for(handler(), timeout=0.5) == "resumed"
    assert acks.unacknowledged == {"set_attributes": 1}
    # outside an RPC the configured bound applies again
    assert await acks.wait("send_text", asyncio.sleep(0.3, "done")) is True
