"""GraphQL over HTTP (the specification) on top of strawberry's FastAPI router.

- Requests are read here, not by strawberry: a POST must be `application/json` (media types
  compared case-insensitively, parameters allowed; UTF-8 only) or it is a 415; the body
  must be one JSON object (a batch, `null` or a number is a 400) with a string `query`, and
  `variables`, `extensions` objects and `operationName` a string when given. Every such
  refusal is a GraphQL error body with the request's id, not strawberry's plain text.
- The operation is chosen as GraphQL's GetOperation() says: a document with several
  operations needs `operationName`, and an unknown name is an error, not "run the first";
  both are GraphQL request errors, so their status follows the negotiated media type like
  a validation error's. A mutation over GET is a 405 with `Allow: POST`.
- `application/graphql-response+json` is served with its status codes.
- orjson is faster and refuses JSON nested deeper than 1,024 levels with a decode error
  instead of blowing the stack.
"""

from contextvars import ContextVar
from email.message import Message
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from fastapi import Request, Response
from graphql import (
    DocumentNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    get_operation_ast,
)
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from promptgraph.http.errors import BAD_USER_INPUT, error_response
from promptgraph.http.request_id import request_id_of
from promptgraph.schema.caching import parse_document

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
METHODS = "GET, POST"

# Set while a request's result is processed and read when its response is built, both in
# the request's own task; the router gives create_response no access to the request.
_response_media_type: ContextVar[str] = ContextVar("response_media_type", default=JSON)


def negotiate(accept: str | None) -> str:
    """The preferred of the two media types the client accepts; application/json otherwise."""
    best, best_q = JSON, -1.0
    for part in (accept or "").split(","):
        media_type, *params = (p.strip() for p in part.split(";"))
        media_type = media_type.lower()
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


class RequestError(HTTPException):
    """Not a well-formed GraphQL-over-HTTP request: answered before any execution."""

    def __init__(self, status_code: int, reason: str, headers: dict[str, str] | None = None):
        super().__init__(status_code, reason)
        self.headers = headers or {}


def _is_json(content_type: str | None) -> bool:
    """`application/json`, in any case, with any parameters but a charset other than UTF-8."""
    header = Message()
    header["content-type"] = content_type or ""
    charset = header.get_content_charset("utf-8")
    return header.get_content_type() == JSON and charset.replace("-", "") == "utf8"


def _decode(data: str | bytes, what: str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise RequestError(400, f"{what} is not valid JSON: {error}") from error


def _request_data(data: Any) -> GraphQLRequestData:
    if isinstance(data, list):
        raise RequestError(400, "batches are not supported: send one operation per request")
    if not isinstance(data, dict):
        raise RequestError(400, "the request must be a JSON object with a `query`")
    query = data.get("query")
    if query is None or query == "":
        raise RequestError(400, "the request has no `query`")
    if not isinstance(query, str):
        raise RequestError(400, "`query` must be a string")
    for name in ("variables", "extensions"):
        if not isinstance(data.get(name), dict | None):
            raise RequestError(400, f"`{name}` must be an object")
    operation_name = data.get("operationName")
    if not isinstance(operation_name, str | None):
        raise RequestError(400, "`operationName` must be a string")
    return GraphQLRequestData(
        query=query,
        variables=data.get("variables"),
        operation_name=operation_name,
        extensions=data.get("extensions"),
    )


def _no_operation(document: DocumentNode, operation_name: str | None) -> str:
    if operation_name is not None:
        return f"the document has no operation named {operation_name!r}"
    if any(isinstance(d, OperationDefinitionNode) for d in document.definitions):
        return "the document has several operations: operationName must name one"
    return "the document has no operation"


class GraphQLOverHttpRouter(GraphQLRouter):
    def __init__(self, *args: Any, max_tokens: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_tokens = max_tokens

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData:
        if request.method == "GET":
            params = request.query_params
            data: dict[str, Any] = {
                "query": params.get("query"),
                "operationName": params.get("operationName"),
            }
            for name in ("variables", "extensions"):
                raw = params.get(name)
                data[name] = _decode(raw, f"`{name}`") if raw else None
            return _request_data(data)
        if not _is_json(request.content_type):
            raise RequestError(415, f"send the request as {JSON}; charset=utf-8")
        return _request_data(_decode(await request.get_body(), "the request body"))

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        try:
            return await super().run(request, context, root_value)
        except HTTPException as error:
            if self.is_websocket_request(request):
                raise
            headers = getattr(error, "headers", {})
            if error.status_code == 405:
                headers = {"Allow": METHODS, **headers}
            return error_response(
                error.status_code,
                error.reason,
                request_id_of(request.scope),
                headers=headers.items(),
                media_type=negotiate(request.headers.get("accept")),
            )

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Any,
        root_value: Any,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """GetOperation() before strawberry runs the document (it would run the first of
        several operations), and mutations over GET refused with 405 and `Allow: POST`."""
        try:
            document = parse_document(request_data.query or "", self.max_tokens)
        except GraphQLError:
            document = None  # reported by strawberry's own parse, as any syntax error
        if document is not None:
            operation = get_operation_ast(document, request_data.operation_name)
            if operation is None:
                message = _no_operation(document, request_data.operation_name)
                extensions = {"code": BAD_USER_INPUT, "requestId": context.request_id}
                return ExecutionResult(
                    data=None, errors=[GraphQLError(message, extensions=extensions)]
                )
            if request_adapter.method == "GET" and operation.operation is OperationType.MUTATION:
                raise RequestError(405, "mutations are only accepted over POST", {"Allow": "POST"})
        return await super().execute_single(
            request=request,
            request_adapter=request_adapter,
            sub_response=sub_response,
            context=context,
            root_value=root_value,
            request_data=request_data,
        )

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
