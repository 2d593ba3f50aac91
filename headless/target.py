"""Where the headless client joins: through a console's `/api/token` (dispatch exactly as
from the page), or straight into a LiveKit deployment with its URL, key and secret."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
from livekit import api

from server.rebuild import rebuild_agent
from server.tokens import join_token


class TargetError(RuntimeError):
    """The target refused or could not be reached; the message says which and why."""


@dataclass(frozen=True)
class Grant:
    url: str  # LiveKit websocket URL
    token: str
    room: str
    identity: str
    agent: str
    dispatch: dict[str, Any] | None = None  # the console's dispatch outcome, when it said


class Target(Protocol):
    """What a session needs from where it runs."""

    agent: str  # the agent name dispatched by default
    description: str

    async def grant(self, room: str, identity: str, agent: str | None = None) -> Grant: ...

    async def rebuild(self, room: str, agent: str | None = None) -> dict[str, Any]: ...

    async def aclose(self) -> None: ...

    def spec(self) -> dict[str, Any]: ...


def is_loopback(url: str) -> bool:
    """Whether `url` names this machine (load goes elsewhere only when a user says so)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def from_spec(spec: dict[str, Any]) -> Target:
    """A target rebuilt from `spec()` (in a generator process of its own)."""
    kind = spec.get("kind")
    if kind == "console":
        return ConsoleTarget(spec["base_url"], access_key=spec["access_key"], agent=spec["agent"])
    if kind == "livekit":
        return LiveKitTarget(
            spec["url"], api_key=spec["api_key"], api_secret=spec["api_secret"], agent=spec["agent"]
        )
    raise ValueError(f"unknown target kind {kind!r}")


class ConsoleTarget:
    """A running console (ours, or a deployment of it): tokens and rebuilds over HTTP."""

    def __init__(self, base_url: str, *, access_key: str | None = None, agent: str = "") -> None:
        self.base_url = base_url.rstrip("/")
        self.agent = agent  # "" = the console's configured agent
        self.description = f"console {self.base_url}"
        self._access_key = access_key
        headers = {"X-Access-Key": access_key} if access_key else {}
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=15)

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            resp = await self._http.post(path, json=body)
        except httpx.HTTPError as e:
            raise TargetError(f"POST {self.base_url}{path}: {e or type(e).__name__}") from e
        try:
            data = resp.json()
        except ValueError:
            data = {"error": resp.text[:200]}
        if resp.status_code >= 400:
            raise TargetError(f"POST {path} answered {resp.status_code}: {data.get('error', data)}")
        return dict(data)

    def spec(self) -> dict[str, Any]:
        return {
            "kind": "console",
            "base_url": self.base_url,
            "access_key": self._access_key,
            "agent": self.agent,
        }

    async def grant(self, room: str, identity: str, agent: str | None = None) -> Grant:
        body = {"room": room, "identity": identity}
        if agent or self.agent:
            body["agent"] = agent or self.agent
        data = await self._post("/api/token", body)
        return Grant(
            data["url"],
            data["token"],
            data["room"],
            data["identity"],
            data["agent"],
            data.get("dispatch"),
        )

    async def rebuild(self, room: str, agent: str | None = None) -> dict[str, Any]:
        body = {"room": room}
        if agent or self.agent:
            body["agent"] = agent or self.agent
        return await self._post("/api/agent/rebuild", body)

    async def aclose(self) -> None:
        await self._http.aclose()


class LiveKitTarget:
    """A LiveKit deployment reached directly: tokens minted here dispatch `agent`."""

    def __init__(self, url: str, *, api_key: str, api_secret: str, agent: str) -> None:
        if not agent:
            raise TargetError("a LiveKit target needs the agent name to dispatch (--agent)")
        self.url = url
        self.agent = agent
        self.description = f"livekit {url} agent {agent}"
        self._key, self._secret = api_key, api_secret
        self._lkapi: api.LiveKitAPI | None = None

    def spec(self) -> dict[str, Any]:
        return {
            "kind": "livekit",
            "url": self.url,
            "api_key": self._key,
            "api_secret": self._secret,
            "agent": self.agent,
        }

    @property
    def lkapi(self) -> api.LiveKitAPI:
        if self._lkapi is None:  # made on the running loop
            http_url = self.url.replace("wss://", "https://").replace("ws://", "http://")
            self._lkapi = api.LiveKitAPI(http_url, self._key, self._secret)
        return self._lkapi

    async def grant(self, room: str, identity: str, agent: str | None = None) -> Grant:
        agent = agent or self.agent
        token = join_token(self._key, self._secret, room=room, identity=identity, agent_name=agent)
        return Grant(self.url, token, room, identity, agent)

    async def rebuild(self, room: str, agent: str | None = None) -> dict[str, Any]:
        try:
            result = await rebuild_agent(self.lkapi, room=room, agent_name=agent or self.agent)
        except Exception as e:
            raise TargetError(f"rebuild in {room}: {e}") from e
        return {"removed": result.removed, "dispatch_id": result.dispatch_id}

    async def aclose(self) -> None:
        if self._lkapi is not None:
            await self._lkapi.aclose()
