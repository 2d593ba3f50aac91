"""The agent's log forwarder: which records reach the room and how they read."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from agent.log_forward import ATTR_ERRORS, TOPIC_LOG, RoomLogForwarder

pytestmark = pytest.mark.unit


class RecordingRoom:
    """Stands in for the room link: keeps what would be published."""

    def __init__(self) -> None:
        self.sent: list[dict[str, object]] = []
        self.attributes: dict[str, str] = {}
        self.changed = asyncio.Event()

    async def publish(self, topic: str, text: str) -> None:
        assert topic == TOPIC_LOG
        self.sent.append(json.loads(text))
        self.changed.set()

    async def set_attributes(self, attributes: dict[str, str]) -> None:
        self.attributes.update(attributes)


async def forwarded(records: list[tuple[str, int, str, bool]], count: int) -> RecordingRoom:
    room = RecordingRoom()
    handler = RoomLogForwarder(publish=room.publish, set_attributes=room.set_attributes)
    for name, level, message, with_exc in records:
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        try:
            if with_exc:
                try:
                    raise ConnectionError("stt connection closed unexpectedly")
                except ConnectionError:
                    logger.log(level, message, exc_info=True)
            else:
                logger.log(level, message)
        finally:
            logger.removeHandler(handler)
    while len(room.sent) < count:
        room.changed.clear()
        await asyncio.wait_for(room.changed.wait(), 5)
    await handler.aclose()
    return room


async def test_warnings_and_errors_reach_the_room_with_the_exception_line() -> None:
    room = await forwarded(
        [
            ("ptt-test.a", logging.INFO, "not forwarded", False),
            ("ptt-test.a", logging.WARNING, "slow loop", False),
            ("ptt-test.b", logging.ERROR, "Error in recv_task", True),
        ],
        count=2,
    )
    assert [(e["level"], e["logger"]) for e in room.sent] == [
        ("warning", "ptt-test.a"),
        ("error", "ptt-test.b"),
    ]
    assert room.sent[1]["message"] == (
        "Error in recv_task: ConnectionError: stt connection closed unexpectedly"
    )
    assert room.sent[1]["errors"] == 1 and "errors" not in room.sent[0]
    assert room.attributes == {ATTR_ERRORS: "1"}


async def test_records_of_the_transport_itself_are_not_forwarded() -> None:
    room = await forwarded(
        [
            ("livekit", logging.ERROR, "data channel closed unexpectedly", False),
            ("livekit.rtc.room", logging.WARNING, "transport", False),
            ("ptt-test.c", logging.WARNING, "after", False),
        ],
        count=1,
    )
    assert [e["message"] for e in room.sent] == ["after"]
    assert room.attributes == {}


async def test_a_job_sharing_its_process_forwards_only_its_own_records() -> None:
    room = RecordingRoom()
    handler = RoomLogForwarder(
        publish=room.publish, set_attributes=room.set_attributes, job_id="AJ_mine"
    )
    logger = logging.getLogger("ptt-test.shared")
    logger.addHandler(handler)
    try:

        def other_job_thread() -> None:
            logger.warning("another job's warning")
            logger.warning("mine, from a helper thread", extra={"job_id": "AJ_mine"})

        await asyncio.to_thread(other_job_thread)
        logger.warning("mine, on my loop")
    finally:
        logger.removeHandler(handler)
    while len(room.sent) < 2:
        room.changed.clear()
        await asyncio.wait_for(room.changed.wait(), 5)
    await asyncio.sleep(0.05)  # a third record, if one were forwarded, would be here now
    await handler.aclose()
    assert sorted(e["message"] for e in room.sent) == [
        "mine, from a helper thread",
        "mine, on my loop",
    ]
