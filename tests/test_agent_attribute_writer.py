"""The agent's attribute writer: in order, one write in flight, later values win."""

from __future__ import annotations

import asyncio
import logging

import pytest

from agent.attribute_writer import AttributeWriter
from agent.ffi_acks import ACK_S, current_bound, within_rpc_deadline

pytestmark = pytest.mark.unit


class HeldRoom:
    """set_attributes that completes only when the test lets it."""

    def __init__(self) -> None:
        self.calls: list[dict[str, str]] = []
        self.bounds: list[float] = []
        self.go = asyncio.Event()
        self.fail_next = False

    async def write(self, attributes: dict[str, str]) -> None:
        self.calls.append(dict(attributes))
        self.bounds.append(current_bound())
        await self.go.wait()
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("refused by the server")


async def test_values_posted_during_a_write_are_merged_into_the_next_one() -> None:
    room = HeldRoom()
    writer = AttributeWriter(room.write)
    first = writer.post({"ptt.turn_owner": "alice"})
    await asyncio.sleep(0)  # the writer takes its first batch
    assert room.calls == [{"ptt.turn_owner": "alice"}]
    second = writer.post({"ptt.turn_owner": ""})
    third = writer.post({"ptt.turn_owner": "bob", "ptt.paused": "0"})
    fourth = writer.post({"ptt.turn_owner": ""})
    assert room.calls == [{"ptt.turn_owner": "alice"}]  # one write in flight
    assert not first.done()
    room.go.set()
    await asyncio.gather(first, second, third, fourth)
    assert room.calls == [
        {"ptt.turn_owner": "alice"},
        {"ptt.turn_owner": "", "ptt.paused": "0"},
    ]
    await writer.aclose()


async def test_a_failed_write_is_logged_and_the_next_is_still_written(
    caplog: pytest.LogCaptureFixture,
) -> None:
    room = HeldRoom()
    room.go.set()
    room.fail_next = True
    writer = AttributeWriter(room.write)
    with caplog.at_level(logging.WARNING, logger="ptt-agent.attributes"):
        await writer.post({"ptt.paused": "1"})  # resolves, does not raise
    assert "attributes not written" in caplog.text
    await writer.post({"ptt.paused": "0"})
    assert room.calls == [{"ptt.paused": "1"}, {"ptt.paused": "0"}]


async def test_writes_posted_from_an_rpc_handler_get_the_full_sdk_bound() -> None:
    room = HeldRoom()
    room.go.set()
    writer = AttributeWriter(room.write)
    with within_rpc_deadline(1.0):
        assert current_bound() == pytest.approx(0.3)
        posted = writer.post({"ptt.turn_owner": "alice"})
    await posted
    # the handler answered already: its deadline does not cut the write's wait short
    assert room.bounds == [ACK_S]


async def test_aclose_waits_for_what_was_posted() -> None:
    room = HeldRoom()
    writer = AttributeWriter(room.write)
    writer.post({"ptt.turn_owner": "alice"})
    closing = asyncio.ensure_future(writer.aclose())
    await asyncio.sleep(0)
    writer.post({"ptt.turn_owner": ""})
    assert not closing.done()
    room.go.set()
    await closing
    assert room.calls == [{"ptt.turn_owner": "alice"}, {"ptt.turn_owner": ""}]
