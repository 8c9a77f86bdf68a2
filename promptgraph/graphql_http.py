"""GraphQL over HTTP (the specification) on top of strawberry's FastAPI router: the
`application/graphql-response+json` media type with its status codes, 405 for an
operation the HTTP method may not carry (a mutation over GET), and orjson, which is faster
and refuses JSON nested deeper than 1,024 levels with a decode error instead of blowing
the stack."""

from contextvars import ContextVar
from typing import Any

import orjson
from cross_web import HTTPException
from fastapi import Request, Response
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"

# Set while a request's result is processed and read when its response is built, both in
# the request's own task; the router gives create_response no access to the request.
_response_media_type: ContextVar[str] = ContextVar("response_media_type", default=JSON)


def negotiate(accept: str | None) -> str:
    """The preferred of the two media types the client accepts; application/json otherwise."""
    best, best_q = JSON, -1.0
    for part in (accept or "").split(","):
        media_type, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media_type in (GRAPHQL_RESPONSE_JSON, JSON) and q > best_q and q > 0:
            best, best_q = media_type, q
    return best


class GraphQLOverHttpRouter(GraphQLRouter):
    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def execute_operation(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().execute_operation(*args, **kwargs)
        except HTTPException as error:
            if isinstance(error.__cause__, InvalidOperationTypeError):
                raise HTTPException(405, error.reason) from error.__cause__
            raise

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        body = await super().process_result(request, result)
        _response_media_type.set(negotiate(request.headers.get("accept")))
        # A request error (syntax, validation, variables) means execution never started:
        # the response then has no `data` entry at all.
        if result.data is None and result.errors and all(e.path is None for e in result.errors):
            body.pop("data", None)
        return body

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        response = super().create_response(response_data, sub_response)
        media_type = _response_media_type.get()
        if media_type == GRAPHQL_RESPONSE_JSON:
            response.headers["content-type"] = f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
            if isinstance(response_data, dict) and "data" not in response_data:
                response.status_code = 400
        return response


class AllowOnMethodNotAllowed:
    """HTTP requires an Allow header on every 405 (strawberry's plain-text one has none);
    the only 405 here is an operation GET may not carry, which POST can."""

    def __init__(self, app: Any, allow: str = "POST") -> None:
        self.app = app
        self.allow = allow.encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_allow(message: Any) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (b"allow", self.allow)],
                }
            await send(message)

        await self.app(scope, receive, send_with_allow)
