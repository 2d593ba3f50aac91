"""uvicorn's sans-io websocket protocol, without a spurious ERROR after a denial response.

uvicorn 0.54 (``websockets-sansio``) sends a ``websocket.http.response`` denial correctly
but never marks the handshake complete, so it then logs "ASGI callable returned without
completing handshake." at ERROR for every 400/401 this service answers (upstream:
Kludex/uvicorn PR #3138, open). The wsproto implementation marks it complete; so do we.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class DenialSafeProtocol(WebSocketsSansIOProtocol):
    """Mark the handshake complete once a denial response has been written."""

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body"):
            self.handshake_complete = True
