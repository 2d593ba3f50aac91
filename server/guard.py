"""Requests from other sites never reach the console's API (rules in docs/console.md).

A web page the developer happens to visit can send a CORS "simple request" (a POST of
`text/plain`, no preflight) to http://127.0.0.1:8000, and a DNS-rebinding page can even
read the answers, because to the browser it is then same-origin. So:

- **Host** (every request, when the server is bound to loopback): a loopback name or
  address, the configured `PTT_HOST`, or one of `PTT_ALLOWED_HOSTS`; otherwise 421.
  A rebinding page's requests carry its own domain here.
- **Content-Type** (every POST): `application/json`, otherwise 415. Anything else is
  a simple request a foreign page could send without a preflight.
- **Origin** (every POST that carries one): the server's own origin, or one of
  `PTT_ALLOWED_ORIGINS`; otherwise 403. Clients that are not browsers send none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from .config import is_loopback


def host_name(host_header: str) -> str:
    """The name of a Host header, without its port ("[::1]:8000" -> "::1")."""
    value = host_header.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class RequestGuard:
    """ASGI middleware applying the Host, Content-Type and Origin rules above."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        bind_host: str,
        allowed_hosts: Iterable[str] = (),
        allowed_origins: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.check_host = is_loopback(bind_host)
        self.hosts = {host_name(h) for h in (bind_host, *allowed_hosts) if h}
        self.origins = {o.rstrip("/").lower() for o in allowed_origins if o}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = self.problem(scope["method"], Headers(scope=scope))
        if problem is None:
            await self.app(scope, receive, send)
            return
        status, message = problem
        body = json.dumps({"error": message}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def problem(self, method: str, headers: Headers) -> tuple[int, str] | None:
        """(status, message) for a refused request, None for one to serve."""
        host = headers.get("host", "")
        if self.check_host and not self._host_ok(host):
            return (
                421,
                f"Host '{host}' is not this console's: it serves loopback names only "
                "(add the name to PTT_ALLOWED_HOSTS to reach it through a proxy)",
            )
        if method != "POST":
            return None
        content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type != "application/json":
            shown = content_type or "none"
            return 415, f"Content-Type must be application/json, got {shown}"
        origin = headers.get("origin")
        if origin is not None and not self._origin_ok(origin, host):
            return (
                403,
                f"cross-origin request from {origin} refused "
                "(list the origin in PTT_ALLOWED_ORIGINS to allow it)",
            )
        return None

    def _host_ok(self, host: str) -> bool:
        name = host_name(host)
        return bool(name) and (is_loopback(name) or name in self.hosts)

    def _origin_ok(self, origin: str, host: str) -> bool:
        origin = origin.rstrip("/").lower()
        same = origin in (f"http://{host.lower()}", f"https://{host.lower()}")
        return same or origin in self.origins
