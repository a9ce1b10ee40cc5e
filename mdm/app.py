"""The ASGI application: Starlette + Strawberry, built by ``create_app(settings)``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UnsetType

from mdm import changes
from mdm.api.context import Context
from mdm.api.graphiql import graphiql_page, graphiql_routes
from mdm.api.schema import build_schema, new_request_id
from mdm.api.transport import error_response, parse_json_object, read_body, replay
from mdm.api.websocket import ChangeSocketHandler
from mdm.api.workers import OperationWorkers
from mdm.auth import Principal, TokenVerifier
from mdm.changes import ReadAhead
from mdm.errors import UnauthenticatedError
from mdm.golden import ChangeContext
from mdm.hub import Hub
from mdm.notify import ChangeFeed, ChangeNotifier
from mdm.settings import Settings

log = logging.getLogger("mdm.app")


@dataclass
class SocketContext(Context):
    """A websocket's context (one per connection): the process's change feed, and the
    ``connection_init`` payload, which may carry the token (``Authorization``)."""

    feed: ChangeFeed | None = None
    connection_params: dict[str, Any] = field(default_factory=dict)
    authorization: str | None = None  # the header its principal was verified from
    verifier: TokenVerifier | None = None
    workers: OperationWorkers | None = None  # its queries and mutations run there

    def still_authorized(self) -> Principal:
        """Verify the socket's token again (a long-lived subscription outlives a revoked
        token's cached check otherwise).

        Raises:
            UnauthenticatedError: the token was revoked (or is gone).
        """
        if self.verifier is None:
            raise UnauthenticatedError("this socket has no token to check")
        return self.verifier.verify(self.authorization)


def _loaded(value: Any) -> Any:
    """``value`` with every ``orjson.Fragment`` parsed back (for the standard library)."""
    if isinstance(value, orjson.Fragment):
        return orjson.loads(value.contents)
    if isinstance(value, dict):
        return {k: _loaded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_loaded(v) for v in value]
    return value


class HubGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view, with bearer-token authentication and the hub's context.

    Over HTTP: the body is read up to ``max_body_bytes`` (413 past it), must be a JSON
    object, and every refusal is a JSON error with a code; each operation executes on one
    of the ``graphql_workers`` threads, off the server's event loop. WebSockets speak
    graphql-transport-ws on Strawberry's own path, on the server's loop (subscriptions read
    the store on threads of their own); the token comes with the upgrade request's
    ``Authorization`` header or the ``connection_init`` payload's, else the connection
    is closed (4403).
    """

    def __init__(
        self, hub: Hub, verifier: TokenVerifier, workers: OperationWorkers, **kwargs: Any
    ) -> None:
        super().__init__(
            build_schema(hub.specs, hub.settings),
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            **kwargs,
        )
        self.hub = hub
        self.verifier = verifier
        self.workers = workers
        self.feed: ChangeFeed | None = None  # set by the lifespan
        self.read_ahead: ReadAhead | None = None  # set by the lifespan

    # Change events rendered once and shared by subscribers (mdm.api.websocket).
    graphql_transport_ws_handler_class = ChangeSocketHandler

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            header = dict(scope.get("headers") or ()).get(b"authorization")
            if header is not None:
                try:
                    scope.setdefault("state", {})["principal"] = await asyncio.to_thread(
                        self.verifier.verify, header.decode("latin-1")
                    )
                except UnauthenticatedError:
                    pass  # connection_init may still carry a good one; else refused there
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self._respond(scope, receive)
        except HTTPException as error:
            response = error_response(error.status_code, error.reason)
        await response(scope, receive, send)

    async def _respond(self, scope: Any, receive: Any) -> Response:
        request = Request(scope, receive)
        is_ide_page = request.method == "GET" and "query" not in request.query_params
        if not is_ide_page:
            try:
                scope.setdefault("state", {})["principal"] = self.verifier.verify(
                    request.headers.get("authorization")
                )
            except UnauthenticatedError as error:
                return error_response(
                    401, error.message, error.code, headers={"WWW-Authenticate": "Bearer"}
                )
        body = await read_body(request, self.hub.settings.max_body_bytes)
        return await self.run(Request(scope, replay(body, receive)))

    def parse_json(self, data: str | bytes) -> Any:
        return parse_json_object(data)

    async def execute_single(
        self,
        request: Request,
        request_adapter: Any,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        if not isinstance(request_data.operation_name, str | None):
            raise HTTPException(400, "operationName must be a string or null")
        execute = super().execute_single
        return await self.workers.run(
            lambda: execute(
                request=request,
                request_adapter=request_adapter,
                sub_response=sub_response,
                context=context,
                root_value=root_value,
                request_data=request_data,
            )
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql_page(request)  # its assets come from this server, not from a CDN

    async def get_context(self, request: Request | WebSocket, response: Any = None) -> Context:
        principal: Principal | None = request.scope.get("state", {}).get("principal")
        if isinstance(request, WebSocket):
            return SocketContext(
                hub=self.hub,
                principal=principal,
                request_id=new_request_id(),
                feed=self.feed,
                authorization=request.headers.get("authorization"),
                verifier=self.verifier,
                workers=self.workers,
            )
        context = Context(
            hub=self.hub,
            principal=principal,
            request_id=new_request_id(),
            rendered={},
            read_ahead=self.read_ahead,
        )
        request.scope.setdefault("state", {})["rendered"] = context.rendered
        return context

    async def process_result(self, request: Request, result: ExecutionResult) -> Any:
        """The response, with the lists of change events their resolver rendered already
        (``Context.rendered``) in place of the empty ones execution completed."""
        response = await super().process_result(request, result)
        rendered = request.scope.get("state", {}).get("rendered")
        data = response.get("data")
        if rendered and isinstance(data, dict):
            for (root, key), fragment in rendered.items():
                page = data.get(root)
                if isinstance(page, dict) and key in page:
                    page[key] = fragment
        return response

    def encode_json(self, data: object) -> str:
        """JSON text by orjson (several times faster on large pages, and it embeds the
        rendered change events); the standard library for what orjson refuses (a lone
        surrogate in a message)."""
        try:
            return orjson.dumps(data).decode()
        except TypeError:
            return json.dumps(_loaded(data), separators=(",", ":"))

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        assert isinstance(context, SocketContext)
        header = context.connection_params.get("Authorization") or context.connection_params.get(
            "authorization"
        )
        if header is None and context.principal is None:
            raise ConnectionRejectionError()
        if header is not None:
            try:
                context.principal = await asyncio.to_thread(self.verifier.verify, str(header))
            except UnauthenticatedError:
                raise ConnectionRejectionError() from None
            context.authorization = str(header)
        return await super().on_ws_connect(context)


BACKLOG_TICK_SECONDS = 1.0
BACKLOG_PER_TICK = 50
PRUNE_SECONDS = 3600.0  # how often serve prunes change events past retention


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


async def _prune_changes(hub: Hub) -> None:
    """Remove change events past ``MDM_CHANGE_RETENTION_DAYS``, hourly, until cancelled."""

    def prune() -> int:
        with hub.database.session() as session:
            return changes.prune(session, hub.settings.change_retention_days)

    while True:
        try:
            pruned = await asyncio.to_thread(prune)
            if pruned:
                log.info("pruned %s change events past retention", f"{pruned:,}")
        except Exception:  # logged and tried again next time
            log.exception("pruning change events failed")
        await asyncio.sleep(PRUNE_SECONDS)


def create_app(settings: Settings) -> Starlette:
    """Build the app; the lifespan opens the database and disposes of it at shutdown."""
    hub = Hub(settings)
    verifier = TokenVerifier(hub.database, settings.token_cache_seconds)
    workers = OperationWorkers(settings.graphql_workers)
    graphql_app = HubGraphQL(
        hub, verifier, workers, graphql_ide="graphiql" if settings.graphiql else None
    )

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
        pruner = (
            asyncio.create_task(_prune_changes(hub)) if settings.change_retention_days > 0 else None
        )
        # Subscribers are woken by this process's commits and, on PostgreSQL, by every
        # process's (LISTEN/NOTIFY).
        notifier = ChangeNotifier(hub.database)
        await notifier.start()
        graphql_app.feed = ChangeFeed(hub.database, notifier, buffer=settings.subscription_buffer)
        # A poller's next page of changes is read while it takes the one it has.
        graphql_app.read_ahead = ReadAhead(hub.database)
        try:
            yield
        finally:
            await graphql_app.feed.close()
            await asyncio.to_thread(graphql_app.read_ahead.close)
            await notifier.close()
            for task in (worker, pruner):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            # Operations under way finish before the database they use is closed.
            await asyncio.to_thread(workers.close)
            hub.close()

    app = Starlette(
        routes=[
            Route("/graphql", graphql_app, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql_app),
            *graphiql_routes(settings.graphiql),
            Route("/healthz", health),
        ],
        lifespan=lifespan,
    )
    app.state.hub = hub
    return app
