"""The body of every error answered at the HTTP level: GraphQL-shaped, with a contract code
and the request's id, the same whichever layer answers (contract section 5)."""

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import Send

BAD_USER_INPUT = "BAD_USER_INPUT"
JSON_MEDIA_TYPE = "application/json"

Headers = Iterable[tuple[str, str]]


def error_body(
    message: str, request_id: str, code: str = BAD_USER_INPUT, extra: Mapping[str, Any] = {}
) -> bytes:
    extensions = {**extra, "code": code, "requestId": request_id}
    return orjson.dumps({"errors": [{"message": message, "extensions": extensions}]})


def error_response(
    status: int,
    message: str,
    request_id: str,
    *,
    code: str = BAD_USER_INPUT,
    extra: Mapping[str, Any] = {},
    headers: Headers = (),
    media_type: str = JSON_MEDIA_TYPE,
) -> Response:
    response = Response(error_body(message, request_id, code, extra), status_code=status)
    response.headers["content-type"] = f"{media_type}; charset=utf-8"
    for name, value in headers:
        response.headers.append(name, value)
    return response


async def send_error(
    send: Send,
    status: int,
    message: str,
    request_id: str,
    *,
    code: str = BAD_USER_INPUT,
    headers: Headers = (),
) -> None:
    """Answer from ASGI middleware, before the app has seen the request."""
    body = error_body(message, request_id, code)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", f"{JSON_MEDIA_TYPE}; charset=utf-8".encode()),
                (b"content-length", str(len(body)).encode()),
                *((name.encode("latin-1"), value.encode("latin-1")) for name, value in headers),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
