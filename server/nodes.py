"""Which LiveKit node a browser joins through, and which one the server asks.

With one URL (the default) there is nothing to choose. With `PTT_LIVEKIT_URLS` (cluster
mode) every new connection is handed the next live node in turn (round robin): any node
accepts any participant and relays its signalling to the node hosting the room, which
LiveKit's node selector chose when the room was created (`sort_by: rooms`). A node that
does not answer its health check is skipped until it answers again. In production a
load balancer in front of the nodes (or LiveKit Cloud) plays this part.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
from livekit import api

HEALTH_TTL_S = 1.0  # a node's health is asked again after this
HEALTH_TIMEOUT_S = 0.5


def health_url(url: str) -> str:
    """livekit-server answers `GET /` with 200 "OK" on its signalling port."""
    for ws, http in (("wss://", "https://"), ("ws://", "http://")):
        if url.startswith(ws):
            return http + url[len(ws) :].rstrip("/") + "/"
    return url.rstrip("/") + "/"


async def http_health(url: str) -> bool:
    try:
        timeout = aiohttp.ClientTimeout(total=HEALTH_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(health_url(url)) as resp:
                return resp.status == 200
    except (TimeoutError, aiohttp.ClientError, OSError):
        return False


@dataclass
class Node:
    url: str  # what the server calls
    public_url: str  # what a browser is told to join
    healthy: bool = True
    checked_at: float = -1e9


@dataclass
class Nodes:
    """The LiveKit nodes, each with a cached health answer."""

    nodes: list[Node]
    probe: Callable[[str], Awaitable[bool]] = http_health
    _turn: itertools.count[int] = field(default_factory=itertools.count)

    @classmethod
    def of(cls, urls: tuple[str, ...], public_urls: tuple[str, ...]) -> Nodes:
        return cls([Node(u, p) for u, p in zip(urls, public_urls, strict=True)])

    @property
    def single(self) -> bool:
        return len(self.nodes) == 1

    async def _refresh(self) -> None:
        now = time.monotonic()
        stale = [n for n in self.nodes if now - n.checked_at > HEALTH_TTL_S]
        answers = await asyncio.gather(*(self.probe(n.url) for n in stale))
        for node, ok in zip(stale, answers, strict=True):
            node.healthy, node.checked_at = ok, now

    async def live(self) -> list[Node]:
        """The nodes answering now, in configured order; all of them when none answers
        (so the caller gets LiveKit's own error, not an empty list)."""
        if self.single:
            return list(self.nodes)
        await self._refresh()
        return [n for n in self.nodes if n.healthy] or list(self.nodes)

    async def next_for_join(self) -> Node:
        """The next live node in turn."""
        live = await self.live()
        return live[next(self._turn) % len(live)]


class NodeApis:
    """One LiveKitAPI client per node; `current()` is one for a live node."""

    def __init__(self, nodes: Nodes, key: str, secret: str) -> None:
        self.nodes = nodes
        self._key, self._secret = key, secret
        self._clients: dict[str, api.LiveKitAPI] = {}

    def client(self, url: str) -> api.LiveKitAPI:
        if url not in self._clients:
            self._clients[url] = api.LiveKitAPI(url, self._key, self._secret)
        return self._clients[url]

    async def current(self) -> api.LiveKitAPI:
        """A client for the first live node (the same one while it stays up)."""
        return self.client((await self.nodes.live())[0].url)

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
