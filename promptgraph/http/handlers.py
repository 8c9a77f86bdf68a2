"""The app's answers to errors raised outside GraphQL execution (auth, the store, routing),
all GraphQL-shaped with the request's id."""

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match

from promptgraph.http.errors import BAD_USER_INPUT, error_response
from promptgraph.http.request_id import request_id_of
from promptgraph.services.errors import ApiError, StoreUnavailable, Unauthenticated

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _api_error(request: Request, error: ApiError, status: int, headers: dict[str, str]) -> Response:
    extensions = dict(error.extensions or {})
    code = extensions.pop("code", BAD_USER_INPUT)
    return error_response(
        status,
        error.message,
        request_id_of(request.scope),
        code=code,
        extra=extensions,
        headers=headers.items(),
    )


def _allowed_methods(request: Request) -> str:
    """Every method some route at this path takes: starlette names only the first route's."""
    return ", ".join(
        method
        for method in METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Unauthenticated)
    async def unauthenticated(request: Request, error: Unauthenticated) -> Response:
        return _api_error(request, error, 401, {"WWW-Authenticate": "Bearer"})

    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(request: Request, error: StoreUnavailable) -> Response:
        return _api_error(request, error, 503, {"Retry-After": "1"})

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        headers = dict(error.headers or {})
        if error.status_code == 405:
            headers["Allow"] = _allowed_methods(request)
        if error.status_code == 404:
            code = "NOT_FOUND"
        elif error.status_code >= 500:
            code = "INTERNAL_SERVER_ERROR"
        else:
            code = BAD_USER_INPUT
        return error_response(
            error.status_code,
            error.detail,
            request_id_of(request.scope),
            code=code,
            headers=headers.items(),
        )
