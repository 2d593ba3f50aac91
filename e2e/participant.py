"""A second, scripted room participant (the LiveKit Python SDK on its own thread).

It joins through the console's own token endpoint, so it works against any deployment.
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

from livekit import rtc

T = TypeVar("T")
# livekit-agents' RemoteSession messages: a SessionHost broadcasts every session event on it
TOPIC_AGENT_SESSION = "lk.agent.session"


class Participant:
    def __init__(
        self, base_url: str, *, room: str, identity: str, access_key: str | None = None
    ) -> None:
        self._base_url = base_url
        self._headers = {"Content-Type": "application/json"}
        if access_key:
            self._headers["X-Access-Key"] = access_key
        self._room_name = room
        self._identity = identity
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.room: rtc.Room | None = None
        self.session_messages: list[str] = []  # senders of lk.agent.session streams
        self.legacy_transcripts: list[str] = []  # rtc.Transcription packets' segment texts

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        fut: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return fut.result(timeout)

    def join(self) -> None:
        body = json.dumps({"room": self._room_name, "identity": self._identity}).encode()
        url = f"{self._base_url}/api/token"
        req = urllib.request.Request(url, data=body, headers=self._headers)
        with urllib.request.urlopen(req, timeout=10) as resp:
            grant = json.loads(resp.read())

        async def connect() -> None:
            self.room = rtc.Room()
            self.room.register_byte_stream_handler(TOPIC_AGENT_SESSION, self._on_session_message)
            self.room.on("transcription_received", self._on_legacy_transcription)
            await self.room.connect(grant["url"], grant["token"])

        self._run(connect())

    def _on_session_message(self, _reader: rtc.ByteStreamReader, sender: str) -> None:
        self.session_messages.append(sender)

    def _on_legacy_transcription(self, segments: list[Any], *_: Any) -> None:
        self.legacy_transcripts.extend(s.text for s in segments)

    def agent(self) -> rtc.RemoteParticipant | None:
        assert self.room is not None
        for p in self.room.remote_participants.values():
            if p.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
                return p
        return None

    def wait_agent_attribute(self, key: str, value: str, timeout: float = 20) -> None:
        async def wait() -> None:
            while True:
                agent = self.agent()
                if agent is not None and agent.attributes.get(key, "") == value:  # "" deletes it
                    return
                await asyncio.sleep(0.05)

        self._run(asyncio.wait_for(wait(), timeout), timeout + 5)

    def rpc(self, method: str, payload: str = "") -> tuple[int, str]:
        """(0, response) on success, (code, message) for an RpcError."""

        async def call() -> tuple[int, str]:
            agent = self.agent()
            assert agent is not None, "no agent in the room"
            assert self.room is not None
            try:
                response = await self.room.local_participant.perform_rpc(
                    destination_identity=agent.identity, method=method, payload=payload
                )
                return 0, response
            except rtc.RpcError as e:
                return e.code, e.message

        return self._run(call())

    def leave(self) -> None:
        if self.room is not None:
            self._run(self.room.disconnect())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
