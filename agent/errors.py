"""The agent's domain errors and their RPC application codes.

LiveKit reserves RPC codes 1001-1999; ours live in 4400-4599 and mirror HTTP.
"""

from __future__ import annotations

from enum import IntEnum

from livekit import rtc


class ErrorCode(IntEnum):
    INVALID_PAYLOAD = 4400
    NOT_TURN_OWNER = 4403
    NO_OPEN_TURN = 4404
    TURN_EVICTED = 4410  # get_turn_audio: the turn's audio is no longer kept
    TURN_BUSY = 4409
    TURN_UNKNOWN = 4416  # get_turn_audio: no such turn (not yet, or never)
    PAUSED = 4423
    INTERNAL = 4500
    NOT_READY = 4503


class PttError(Exception):
    """A request the agent refuses; carries the RPC application code."""

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_rpc_error(self) -> rtc.RpcError:
        return rtc.RpcError(int(self.code), self.message)


class InvalidPayload(PttError):
    code = ErrorCode.INVALID_PAYLOAD


class NotTurnOwner(PttError):
    code = ErrorCode.NOT_TURN_OWNER


class NoOpenTurn(PttError):
    code = ErrorCode.NO_OPEN_TURN


class TurnBusy(PttError):
    code = ErrorCode.TURN_BUSY


class Paused(PttError):
    code = ErrorCode.PAUSED


class NotReady(PttError):
    code = ErrorCode.NOT_READY


class TurnEvicted(PttError):
    code = ErrorCode.TURN_EVICTED


class TurnUnknown(PttError):
    code = ErrorCode.TURN_UNKNOWN
