"""The Starlette app (``GET /healthz``, websocket ``/v1/listen``) and its uvicorn server."""

from __future__ import annotations

import contextlib
import hmac
import importlib.metadata
import uuid
from collections.abc import AsyncIterator
from typing import Any, TypedDict

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from .config import Settings
from .engine import EngineSpec, build_spec
from .log import logger
from .pool import DecoderPool, PoolError
from .protocol import (
    CLOSE_POLICY,
    CLOSE_SERVER_ERROR,
    ModelInfo,
    ParamError,
    http_error_body,
    parse_stream_params,
)
from .session import Session, recognizer_options
from .wsprotocol import DenialSafeProtocol

_DENIAL_EXTENSION = "websocket.http.response"


class State(TypedDict):
    """Shared resources, from the lifespan to every request."""

    settings: Settings
    pool: DecoderPool
    model: ModelInfo


async def healthz(request: Request) -> JSONResponse:
    """Liveness: the decoder workers are up once the app serves requests."""
    return JSONResponse({"status": "ok"})


async def listen(websocket: WebSocket) -> None:
    """Deepgram-compatible live transcription of one stream."""
    settings: Settings = websocket.state.settings
    request_id = str(uuid.uuid4())
    if settings.api_key and not _authorized(websocket, settings.api_key):
        logger.info("stream refused", extra={"request_id": request_id, "status": 401})
        await _deny(
            websocket,
            401,
            http_error_body(
                "INVALID_AUTH", "invalid credentials: send Authorization: Token <key>", request_id
            ),
        )
        return
    try:
        params = parse_stream_params(websocket.query_params)
    except ParamError as e:
        logger.info(
            "stream refused", extra={"request_id": request_id, "status": 400, "reason": e.reason}
        )
        await _deny(
            websocket, 400, http_error_body("INVALID_QUERY_PARAMETER", e.reason, request_id)
        )
        return
    pool: DecoderPool = websocket.state.pool
    try:
        handle = await pool.open_stream(recognizer_options(params, settings))
    except PoolError as e:
        logger.warning(
            "stream refused: no decoder", extra={"request_id": request_id, "error": str(e)}
        )
        await _deny(websocket, 503, http_error_body("UNAVAILABLE", str(e), request_id))
        return
    session = Session(
        websocket,
        settings=settings,
        params=params,
        request_id=request_id,
        model=websocket.state.model,
    )
    await session.run(handle)


def _authorized(websocket: WebSocket, api_key: str) -> bool:
    scheme, _, token = websocket.headers.get("authorization", "").partition(" ")
    return scheme.lower() in ("token", "bearer") and hmac.compare_digest(
        token.strip().encode(), api_key.encode()
    )


async def _deny(websocket: WebSocket, status: int, body: dict[str, Any]) -> None:
    """Refuse the upgrade with an HTTP error, or accept and close with 1008/1011."""
    if _DENIAL_EXTENSION in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(JSONResponse(body, status_code=status))
        return
    await websocket.accept()
    code = CLOSE_SERVER_ERROR if status >= 500 else CLOSE_POLICY
    await websocket.close(code=code, reason=str(body["err_msg"])[:120])


def model_info(spec: EngineSpec) -> ModelInfo:
    """How the service names its model in messages."""
    version = importlib.metadata.version("pocketsphinx")
    return ModelInfo(name=f"pocketsphinx-{spec.name}", version=version)


def create_app(settings: Settings, *, spec: EngineSpec | None = None) -> Starlette:
    """The ASGI app. Building the engine spec validates the grammar before any worker starts."""
    engine_spec = spec or build_spec(settings.vocabulary, settings.grammar)  # type: ignore[arg-type]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        pool = DecoderPool(engine_spec, workers=settings.workers)
        app.state.pool = pool  # for introspection (tests); requests use the lifespan state
        try:
            await pool.start()
            yield {"settings": settings, "pool": pool, "model": model_info(engine_spec)}
        finally:
            await pool.aclose()

    return Starlette(
        routes=[Route("/healthz", healthz), WebSocketRoute("/v1/listen", listen)],
        lifespan=lifespan,
    )


class Server(uvicorn.Server):
    """uvicorn's server, logging one INFO line with the bound address once listening."""

    def __init__(self, config: uvicorn.Config, app: Starlette) -> None:
        super().__init__(config)
        self.app = app

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        return int(self.servers[0].sockets[0].getsockname()[1])

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        if self.started:
            host = self.config.host
            logger.info(
                "STT service listening",
                extra={
                    "url": f"ws://{host}:{self.port}/v1/listen",
                    "health": f"http://{host}:{self.port}/healthz",
                },
            )


def build_server(settings: Settings, *, spec: EngineSpec | None = None) -> Server:
    """A uvicorn server for the app; frames above twice the limit are refused by uvicorn."""
    app = create_app(settings, spec=spec)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        ws=DenialSafeProtocol,
        ws_max_size=2 * settings.max_frame_bytes,
        ws_per_message_deflate=False,  # PCM barely compresses; inflating it cost CPU
        lifespan="on",
        log_config=None,  # logging is the caller's (see log.configure_logging)
        log_level=None,
    )
    return Server(config, app)
