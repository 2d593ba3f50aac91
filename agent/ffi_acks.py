"""Bounded waits for the SDK's completion callbacks.

The pinned SDK (livekit 1.1.21) sometimes never completes an awaited request:
`LocalParticipant.set_attributes` hung forever in about 1 of 400 calls against
livekit-server 1.13.5 on loopback, sequential or concurrent, while the update itself
reached the server and the other participants (every request id arrived in order; an
observer saw the value). Awaited inside an RPC handler, that hang became the caller's
RPC response timeout (1502): three of 1,000 soak cycles. So every such wait is bounded:
after `ACK_S` the waiter is cancelled (which also ends its subscription to the SDK's
event queue, woken by every event otherwise) and the call counted as unacknowledged.

Inside an RPC handler the bound is also kept well under the caller's deadline
(`within_rpc_deadline`): the caller's SDK gives the handler only part of its own
timeout (3 s of the headless client's 10 s), and a lost completion waited out for the
whole 3 s made the handler miss it, so the caller got RESPONSE_TIMEOUT (1502) although
the handler had done its work (twice in a soak's first 325 cycles).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field

logger = logging.getLogger("ptt-agent.ffi")

ACK_S = 3.0  # a completion later than this is treated as lost; the request was sent
RPC_SHARE = 0.3  # inside an RPC handler: at most this share of the caller's deadline
MIN_ACK_S = 0.2
_rpc_bound: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "ptt_rpc_ack_bound", default=None
)


@contextlib.contextmanager
def within_rpc_deadline(response_timeout: float) -> Iterator[None]:
    """Waits in this context (an RPC handler) end well before the caller's deadline."""
    token = _rpc_bound.set(max(MIN_ACK_S, response_timeout * RPC_SHARE))
    try:
        yield
    finally:
        _rpc_bound.reset(token)


def detached_from_rpc() -> contextvars.Context:
    """A copy of this context without an RPC handler's bound: for work that outlives
    the handler's answer (its waits get the full `ACK_S`)."""
    ctx = contextvars.copy_context()
    ctx.run(_rpc_bound.set, None)
    return ctx


def current_bound(within: float = ACK_S) -> float:
    """How long a wait here may last: `within`, or less inside an RPC handler."""
    bound = _rpc_bound.get()
    return within if bound is None else min(within, bound)


def _retrieve(task: asyncio.Future[object]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        logger.debug("an SDK request failed after its wait ended", extra={"error": repr(exc)})


@dataclass
class AckWaits:
    """Counts, per request kind, the completions that never came."""

    within: float = ACK_S
    unacknowledged: dict[str, int] = field(default_factory=dict)

    async def wait(self, what: str, call: Awaitable[object]) -> bool:
        """Await `call` for at most `within` s; False when its completion did not come."""
        task = asyncio.ensure_future(call)
        task.add_done_callback(_retrieve)  # a late failure, after we stopped waiting
        within = current_bound(self.within)
        try:
            done, _ = await asyncio.wait({task}, timeout=within)
        finally:
            if not task.done():
                task.cancel()  # only the wait for the completion ends here
        if done:
            task.result()  # a failure of the call itself is the caller's to see
            return True
        self.unacknowledged[what] = self.unacknowledged.get(what, 0) + 1
        logger.warning(
            "the SDK did not acknowledge a request; carrying on, the request was sent",
            extra={"request": what, "within_s": within, "count": self.unacknowledged[what]},
        )
        return False
