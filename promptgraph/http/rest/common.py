"""What every seed-compatible REST surface shares: who the caller is (the same keys and
`Authenticator` as GraphQL), and one route class that turns the service layer's errors, request
validation and unexpected failures into the surface's own error shape and status codes."""

import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qsl, unquote

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.responses import Response

from promptgraph.db import Database, is_unavailable
from promptgraph.http.credentials import credentials_of
from promptgraph.http.request_id import request_id_of
from promptgraph.services import validation
from promptgraph.services.auth import Authenticator, Credentials, Principal
from promptgraph.services.errors import ApiError, BadUserInput, StoreUnavailable
from promptgraph.services.records import PageResult
from promptgraph.services.validation import NUL, has_nul

logger = logging.getLogger("promptgraph")
T = TypeVar("T")

INTERNAL_MESSAGE = "Internal server error"

# The contract's error codes and the HTTP status each surface answers them with, unless the
# surface says otherwise (`ErrorShape.statuses`).
STATUSES = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "BAD_USER_INPUT": 400,
    "INTERNAL_SERVER_ERROR": 500,
}


class ErrorShape(Protocol):
    """How one surface writes an error."""

    statuses: dict[str, int]

    def render(self, status: int, code: str, message: str) -> Response: ...


def error_responses(model: type[BaseModel], *statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer (401, 500 and 503 always);
    `4XX` stands for the rest, so FastAPI does not document its own 422 shape instead."""
    described: dict[int | str, str] = {
        401: "Missing or invalid API key",
        500: "Internal error (details in the server log, under the request id)",
        503: "The store is unavailable; retry shortly",
        **{s: _DESCRIPTIONS[s] for s in statuses},
    }
    described["4XX"] = "Another client error"
    return {status: {"model": model, "description": text} for status, text in described.items()}


_DESCRIPTIONS = {
    400: "Invalid input",
    403: "The key's role may not do this",
    404: "Not found in the key's workspace",
    409: "Conflicts with what is stored",
    422: "Invalid input",
}


def _validation_message(error: RequestValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
        parts.append(f"{where}: {item.get('msg')}" if where else str(item.get("msg")))
    return "; ".join(parts) or "invalid request"


async def refuse_nul(request: Request) -> None:
    """Neither database stores a NUL character in text, so, as GraphQL does
    (`schema/limits.py`), a request carrying one anywhere is refused before it is handled."""
    body = await request.body()
    query = request.url.query
    values: list[Any] = [unquote(request.url.path), *(v for pair in parse_qsl(query) for v in pair)]
    if NUL.encode() in body:
        raise BadUserInput(NUL_MESSAGE)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        values += [v for pair in parse_qsl(body.decode("latin-1")) for v in pair]
    elif "json" in content_type:
        with suppress(orjson.JSONDecodeError):  # the route answers an invalid body itself
            values.append(orjson.loads(body))
    if has_nul(values):
        raise BadUserInput(NUL_MESSAGE)


NUL_MESSAGE = "text must not contain NUL (\\u0000) characters"


def surface_route(shape: ErrorShape) -> type[APIRoute]:
    """A route class whose handler answers every error in `shape`: FastAPI raises request
    validation errors inside the handler, and services raise `ApiError`s, so both are caught
    here instead of by the app's GraphQL-shaped handlers."""

    class SurfaceRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
            handler = super().get_route_handler()

            async def handle(request: Request) -> Response:
                try:
                    await refuse_nul(request)
                    return await handler(request)
                except RequestValidationError as error:
                    code = "BAD_USER_INPUT"
                    return shape.render(shape.statuses[code], code, _validation_message(error))
                except StoreUnavailable as error:
                    response = shape.render(503, error.extensions["code"], error.message)
                    response.headers["Retry-After"] = "1"
                    return response
                except ApiError as error:
                    code = (error.extensions or {}).get("code", "INTERNAL_SERVER_ERROR")
                    response = shape.render(shape.statuses[code], code, error.message)
                    if code == "UNAUTHENTICATED":
                        response.headers["WWW-Authenticate"] = "Bearer"
                    return response
                except Exception as error:
                    request_id = request_id_of(request.scope)
                    if is_unavailable(error):
                        logger.warning("store unavailable, request %s: %r", request_id, error)
                        response = shape.render(
                            503, "INTERNAL_SERVER_ERROR", StoreUnavailable.MESSAGE
                        )
                        response.headers["Retry-After"] = "1"
                        return response
                    logger.exception("internal error, request %s", request_id)
                    return shape.render(500, "INTERNAL_SERVER_ERROR", INTERNAL_MESSAGE)

            return handle

    return SurfaceRoute


async def principal_of(request: Request, credentials: Credentials | None = None) -> Principal:
    """The caller, exactly as GraphQL authenticates it: the one Authorization header (read by
    `http/credentials.py`) unless a surface reads its key elsewhere."""
    authenticator: Authenticator = request.app.state.authenticator
    return await authenticator.principal(credentials or credentials_of(request.scope))


def database_of(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


async def every_page(fetch: Callable[[validation.Page], Awaitable[PageResult[T]]]) -> list[T]:
    """All items of a paged service read, for the surfaces whose lists are not paged."""
    items: list[T] = []
    offset = 0
    while True:
        page = await fetch(validation.page(offset, validation.MAX_LIMIT))
        items.extend(page.items)
        offset += len(page.items)
        if not page.items or offset >= page.total:
            return items
