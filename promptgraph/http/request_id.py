"""Every request gets an id, on the way in, before anything can fail: the client's own
X-Request-ID when it is a safe token, else a new one. Every response carries it back, every
error body carries it as `extensions.requestId`, and every log line about the request names
it, so a client's report can be matched to the server's log.

An exception nothing else handled is answered here as a masked INTERNAL_SERVER_ERROR with
that id (and logged with its stack), instead of a plain-text 500 without one."""

import logging
import re
import uuid
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from promptgraph.http.errors import send_error
from promptgraph.logs import bind_request_id

logger = logging.getLogger("promptgraph.http")

HEADER = b"x-request-id"
STATE_KEY = "request_id"
CLIENT_ID = re.compile(rb"[A-Za-z0-9._-]{1,128}")
INTERNAL_MESSAGE = "Internal server error"


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_of(scope: Scope) -> str:
    """The id `RequestId` gave this request; a fresh one where it did not run."""
    request_id = scope.get("state", {}).get(STATE_KEY)
    return request_id if isinstance(request_id, str) else new_request_id()


def request_id_from(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The client's X-Request-ID when it is a safe token, else a new id."""
    for name, value in headers:
        if name.lower() == HEADER:
            return value.decode("ascii") if CLIENT_ID.fullmatch(value) else new_request_id()
    return new_request_id()


class RequestId:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope["headers"])
        scope.setdefault("state", {})[STATE_KEY] = request_id
        bind_request_id(request_id)
        header = (HEADER, request_id.encode("ascii"))
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] in ("http.response.start", "websocket.accept"):
                started = True
                headers = [h for h in message.get("headers", []) if h[0].lower() != HEADER]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        if scope["type"] == "websocket":
            await self.app(scope, receive, send_with_id)
            return
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception("internal error, request %s", request_id)
            if started:
                raise
            await send_error(
                send_with_id, 500, INTERNAL_MESSAGE, request_id, code="INTERNAL_SERVER_ERROR"
            )
