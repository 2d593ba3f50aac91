"""The agent's participant attributes, written in order and off the turn's path.

An RPC handler that awaited `set_attributes` held its caller until the SDK
acknowledged the write. When the SDK lost the completion (agent/ffi_acks.py: about 1
in 400 calls, more under load), that was the whole bound, 3 s. The page sends its next
RPC only after the answer, so a `start_turn` behind that wait reached the agent after
the user had begun speaking, past the pre-roll: the turn lost its first words (seen in
fresh-clone CI runs and in load steps).

So the controller posts its attributes here and answers at once. What refusals are
decided on (the turn's owner, paused) is the controller's own state, set before any
await; the attributes are what the other participants see. One write is in flight at a
time, in the order posted. Values posted meanwhile are merged into the next write, a
later value for a key replacing an earlier one, so the room always ends with the last
value posted. A caller that needs its values visible (pause, resume: the page derives
the paused state from the attribute) awaits the future `post` returns.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from .ffi_acks import detached_from_rpc

logger = logging.getLogger("ptt-agent.attributes")

Write = Callable[[dict[str, str]], Awaitable[object]]


class AttributeWriter:
    """Writes posted attributes one batch at a time, in order, merging what waits."""

    def __init__(self, write: Write) -> None:
        self._write = write
        self._pending: dict[str, str] = {}
        self._waiters: list[asyncio.Future[None]] = []
        self._write_atask: asyncio.Task[None] | None = None

    def post(self, attributes: dict[str, str]) -> asyncio.Future[None]:
        """Queue `attributes`; the future resolves once a write carrying them has ended
        (acknowledged, given up on by the SDK's bound, or failed and logged)."""
        loop = asyncio.get_running_loop()
        self._pending.update(attributes)
        done: asyncio.Future[None] = loop.create_future()
        self._waiters.append(done)
        if self._write_atask is None or self._write_atask.done():
            # not bound by the posting RPC's deadline: nobody's answer waits on it
            self._write_atask = loop.create_task(self._run(), context=detached_from_rpc())
        return done

    async def _run(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, {}
            waiters, self._waiters = self._waiters, []
            try:
                await self._write(batch)
            except Exception as e:
                extra = {"attributes": batch, "error": repr(e)}
                logger.warning("attributes not written", extra=extra)
            finally:
                for w in waiters:
                    if not w.done():
                        w.set_result(None)

    async def aclose(self) -> None:
        """Let what was posted be written (each write is bounded by the SDK's wait)."""
        if self._write_atask is not None:
            await asyncio.gather(self._write_atask, return_exceptions=True)
