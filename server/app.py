"""The console's web app: page, static modules, token, rebuild and dispatch endpoints."""

from __future__ import annotations

import contextlib
import functools
import hmac
import logging
import time
from collections.abc import AsyncIterator
from importlib import metadata
from typing import Any

from livekit import api
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from .config import Settings
from .dispatch import AgentOutcome, ensure_agent
from .guard import RequestGuard
from .identities import check_identity
from .nodes import NodeApis, Nodes
from .rebuild import livekit_errors, rebuild_agent, require_room
from .tokens import mint_token
from .validation import ApiError, optional_bool, optional_name, read_json_object, require_name

logger = logging.getLogger("server")

ACCESS_KEY_HEADER = "X-Access-Key"


@functools.cache
def console_version() -> str:
    """This console's version (the session report names it)."""
    try:
        return metadata.version("ptt-console")
    except metadata.PackageNotFoundError:
        return "unknown"


def create_app(settings: Settings | None = None) -> Starlette:
    """Build the Starlette app; `settings` default to `Settings.from_env()`."""
    settings = settings or Settings.from_env()
    settings.check()
    templates = Jinja2Templates(directory=str(settings.root / "templates"))
    vendor_dir = settings.root / "node_modules" / "livekit-client" / "dist"
    if not vendor_dir.is_dir():
        logger.warning(
            "livekit-client is not installed: run `npm ci` in the project root",
            extra={"missing": str(vendor_dir)},
        )

    def require_access_key(request: Request) -> None:
        if not settings.access_key:
            return
        given = request.headers.get(ACCESS_KEY_HEADER, "")
        if not hmac.compare_digest(given.encode(), settings.access_key.encode()):
            raise ApiError(401, f"missing or wrong {ACCESS_KEY_HEADER} header")

    async def index(request: Request) -> Response:
        return templates.TemplateResponse(
            request,
            "index.html",
            {
                "agent_name": settings.agent_name,
                "access_key_required": settings.access_key_required,
                "console_version": console_version(),
            },
        )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def token(request: Request) -> Response:
        require_access_key(request)
        data = await read_json_object(request)
        room = require_name(data, "room")
        identity = require_name(data, "identity")
        agent = optional_name(data, "agent") or settings.agent_name
        lkapi = await request.state.apis.current()
        await check_identity(
            lkapi,
            room=room,
            identity=identity,
            agent_identity=settings.agent_identity,
            agent_name=agent,
            replace=optional_bool(data, "replace"),
        )
        jwt = mint_token(settings, room=room, identity=identity, agent_name=agent)
        outcome = await agent_outcome(lkapi, room=room, agent_name=agent)
        node = await request.state.apis.nodes.next_for_join()
        logger.info(
            "token issued",
            extra={
                "room": room,
                "identity": identity,
                "agent": agent,
                "dispatch": outcome.status,
                "node": node.url,
            },
        )
        return JSONResponse(
            {
                "url": node.public_url,
                "token": jwt,
                "room": room,
                "identity": identity,
                "agent": agent,
                "dispatch": outcome.to_json(),
            }
        )

    async def room_and_agent(request: Request) -> tuple[str, str, dict[str, Any]]:
        """The checked `room` and `agent` (default: the configured agent) of a request,
        and its whole body."""
        require_access_key(request)
        data = await read_json_object(request)
        room = require_name(data, "room")
        return room, optional_name(data, "agent") or settings.agent_name, data

    async def agent_rebuild(request: Request) -> Response:
        room, agent, _ = await room_and_agent(request)
        lkapi = await request.state.apis.current()
        result = await rebuild_agent(lkapi, room=room, agent_name=agent)
        return JSONResponse(
            {"removed": result.removed, "dispatch_id": result.dispatch_id, "agent": agent}
        )

    forced_at: dict[str, float] = {}  # room -> when a `missing` dispatch last skipped the listing

    async def agent_dispatch(request: Request) -> Response:
        room, agent, data = await room_and_agent(request)
        # `missing`: the caller is in the room and sees no agent; at most one such dispatch
        # per room every MISSING_DISPATCH_EVERY_S skips the listings (see ensure_agent)
        now = time.monotonic()
        force = optional_bool(data, "missing") and (
            now - forced_at.get(room, -1e9) >= MISSING_DISPATCH_EVERY_S
        )
        if force:
            for old in [r for r, t in forced_at.items() if now - t > MISSING_DISPATCH_EVERY_S]:
                del forced_at[old]
            forced_at[room] = now
        lkapi = await request.state.apis.current()
        with livekit_errors(room, "dispatch"):
            await require_room(lkapi, room)
            outcome = await ensure_agent(
                lkapi, room=room, agent_name=agent, trust_listing=not force
            )
        present = [agent] if outcome.status == "present" else []
        return JSONResponse(
            {
                "present": present,
                "coming": outcome.dispatch_id if outcome.status == "coming" else "",
                "dispatch_id": outcome.dispatch_id if outcome.status != "coming" else "",
                "agent": agent,
                "dispatch": outcome.to_json(),
            }
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, NodeApis]]:
        nodes = Nodes.of(settings.livekit_urls, settings.public_livekit_urls)
        apis = NodeApis(nodes, settings.livekit_api_key, settings.livekit_api_secret)
        try:
            yield {"apis": apis}
        finally:
            await apis.aclose()

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/api/token", token, methods=["POST"]),
        Route("/api/agent/rebuild", agent_rebuild, methods=["POST"]),
        Route("/api/agent/dispatch", agent_dispatch, methods=["POST"]),
        Mount(
            "/static",
            app=StaticFiles(directory=settings.root / "static"),
            name="static",
        ),
        Mount(
            "/vendor/livekit-client",
            app=StaticFiles(directory=vendor_dir, check_dir=False),
            name="vendor",
        ),
    ]
    guard = Middleware(
        RequestGuard,
        bind_host=settings.host,
        allowed_hosts=settings.allowed_hosts,
        allowed_origins=settings.allowed_origins,
    )
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[guard],
        exception_handlers={
            ApiError: api_error_response,
            HTTPException: http_error_response,
        },
    )


MISSING_DISPATCH_EVERY_S = 10.0


async def agent_outcome(lkapi: api.LiveKitAPI, *, room: str, agent_name: str) -> AgentOutcome:
    """`ensure_agent`, or "unknown" when LiveKit cannot be asked: the token still
    dispatches the agent when the join creates the room."""
    try:
        with livekit_errors(room, "dispatch"):
            return await ensure_agent(lkapi, room=room, agent_name=agent_name)
    except ApiError as e:
        return AgentOutcome(agent_name, "unknown", reason=e.message)


async def api_error_response(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse({"error": exc.message}, status_code=exc.status)


async def http_error_response(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)
