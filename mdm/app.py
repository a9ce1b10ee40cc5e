"""The ASGI application: Starlette + Strawberry, built by ``create_app(settings)``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from mdm.api.context import Context
from mdm.api.schema import build_schema, new_request_id
from mdm.auth import Principal, TokenVerifier
from mdm.errors import UnauthenticatedError
from mdm.golden import ChangeContext
from mdm.hub import Hub
from mdm.settings import Settings

log = logging.getLogger("mdm.app")


class HubGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view, with bearer-token authentication and the hub's context."""

    def __init__(self, hub: Hub, verifier: TokenVerifier, **kwargs: Any) -> None:
        super().__init__(build_schema(hub.specs, hub.settings), **kwargs)
        self.hub = hub
        self.verifier = verifier

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        is_ide_page = request.method == "GET" and "query" not in request.query_params
        if not is_ide_page:
            try:
                scope.setdefault("state", {})["principal"] = self.verifier.verify(
                    request.headers.get("authorization")
                )
            except UnauthenticatedError as error:
                response = JSONResponse(
                    {"errors": [{"message": error.message, "extensions": {"code": error.code}}]},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def get_context(self, request: Request | WebSocket, response: Any = None) -> Context:
        principal: Principal | None = request.scope.get("state", {}).get("principal")
        return Context(hub=self.hub, principal=principal, request_id=new_request_id())


BACKLOG_TICK_SECONDS = 1.0
BACKLOG_PER_TICK = 50


async def _work_backlog(hub: Hub) -> None:
    """Work off the re-evaluation backlog in a thread, a tick at a time, until cancelled."""
    ctx = ChangeContext("mdm serve (re-evaluation)", None)

    def tick() -> int:
        with hub.database.session() as session:
            return hub.ingestor.work_backlog(session, ctx, limit=BACKLOG_PER_TICK)

    while True:
        try:
            done = await asyncio.to_thread(tick)
        except Exception:  # a failed tick is logged and retried; the rows stay queued
            log.exception("re-evaluation tick failed")
            done = 0
        if done < BACKLOG_PER_TICK:
            await asyncio.sleep(BACKLOG_TICK_SECONDS)


def create_app(settings: Settings) -> Starlette:
    """Build the app; the lifespan opens the database and disposes of it at shutdown."""
    hub = Hub(settings)
    verifier = TokenVerifier(hub.database, settings.token_cache_seconds)
    graphql_app = HubGraphQL(hub, verifier, graphql_ide="graphiql" if settings.graphiql else None)

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        log.info("mdm hub serving with database %s", hub.database.engine.url.render_as_string())
        # Background WAL checkpoints; what start-up built kept out of the collector's scans
        # (so large responses don't stall on full GCs).
        hub.start_serving()
        # Children of changed parents are re-decided off the request path, a bounded
        # number per tick; what waits is visible (reevaluationBacklog).
        worker = (
            asyncio.create_task(_work_backlog(hub)) if settings.background_reevaluation else None
        )
        try:
            yield
        finally:
            if worker is not None:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            hub.close()

    app = Starlette(
        routes=[Route("/graphql", graphql_app, methods=["GET", "POST"]), Route("/healthz", health)],
        lifespan=lifespan,
    )
    app.state.hub = hub
    return app
