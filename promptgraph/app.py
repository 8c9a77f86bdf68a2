"""The FastAPI app: the dashboard at /, GraphQL (and GraphiQL) at /graphql, the
seed-compatible REST surfaces (documented at /openapi.json), health at /healthz, Prometheus
metrics at /metrics."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from promptgraph.config import Settings
from promptgraph.db import Database, is_unavailable
from promptgraph.http.body_limit import BodySizeLimit
from promptgraph.http.cors import ListedOriginsCors
from promptgraph.http.credentials import AuthorizationHeader, credentials_of
from promptgraph.http.dashboard import mount_dashboard
from promptgraph.http.graphiql import PackagedGraphiQL, mount_assets
from promptgraph.http.graphql_http import GraphQLOverHttpRouter
from promptgraph.http.handlers import install_error_handlers
from promptgraph.http.header_limit import HeaderSizeLimit
from promptgraph.http.metrics import RequestMetrics, metrics_endpoint
from promptgraph.http.request_id import RequestId, request_id_of
from promptgraph.http.rest import mount as mount_rest
from promptgraph.resolvers.context import Context
from promptgraph.response_cache import ResponseCache, ticket_of
from promptgraph.schema import build_schema
from promptgraph.services.auth import Authenticator
from promptgraph.services.errors import StoreUnavailable

logger = logging.getLogger("promptgraph")


def _is_graphiql_page(request: Request) -> bool:
    """GraphiQL itself loads without a key; the queries it sends carry one like any client."""
    return request.method == "GET" and "query" not in request.query_params


class Router(PackagedGraphiQL, GraphQLOverHttpRouter):
    """GraphQL over HTTP, with GraphiQL served from the package."""


def create_app(db: Database | None = None, settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    database = db or Database(
        settings.database_url, sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if db is None:
            await database.dispose()

    authenticator = Authenticator(database)

    async def get_context(request: Request) -> Context:
        request_id = request_id_of(request.scope)
        if _is_graphiql_page(request):
            return Context(database, None, request_id)
        try:
            principal = await authenticator.principal(credentials_of(request.scope))
        except Exception as error:
            if is_unavailable(error):
                logger.warning("store unavailable, request %s: %r", request_id, error)
                raise StoreUnavailable(request_id) from error
            raise
        ticket = ticket_of(request.scope)
        if ticket is not None:
            ticket.workspace_id = principal.workspace_id
        return Context(database, principal, request_id, ticket)

    app = FastAPI(title="promptgraph", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.db = database
    app.state.authenticator = authenticator
    install_error_handlers(app)

    @app.get("/healthz")
    async def healthz() -> Response:
        if await database.ping():
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "database unavailable"}, status_code=503)

    app.add_route("/metrics", metrics_endpoint, methods=["GET"])

    mount_assets(app)
    mount_dashboard(app)

    router = Router(
        build_schema(settings), context_getter=get_context, max_tokens=settings.limits.max_tokens
    )
    # GraphQL documents itself (introspection); /openapi.json is for the REST surfaces.
    app.include_router(router, prefix="/graphql", include_in_schema=False)
    mount_rest(app)

    # Middleware, innermost first: a request meets them bottom to top.
    app.add_middleware(
        ResponseCache, feed=database.changes, max_bytes=settings.response_cache_bytes
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(AuthorizationHeader)
    if settings.cors_origins:
        app.add_middleware(ListedOriginsCors, origins=settings.cors_origins)
    app.add_middleware(HeaderSizeLimit)
    app.add_middleware(RequestMetrics)
    app.add_middleware(RequestId)
    return app
