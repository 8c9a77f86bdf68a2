"""The request's one Authorization header, parsed once, before anything else reads it: the
response cache keys on its digest and auth checks its token, so both always mean the same
key. Two Authorization headers are refused (400) rather than one layer reading the first and
another the last."""

from starlette.types import ASGIApp, Receive, Scope, Send

from promptgraph.http.errors import send_error
from promptgraph.http.request_id import request_id_of
from promptgraph.services.auth import NO_CREDENTIALS, Credentials

STATE_KEY = "credentials"
HEADER = b"authorization"
TWO_HEADERS = "a request may carry one Authorization header, not several"


def credentials_of(scope: Scope) -> Credentials:
    """What `AuthorizationHeader` read; none where it did not run."""
    credentials = scope.get("state", {}).get(STATE_KEY)
    return credentials if isinstance(credentials, Credentials) else NO_CREDENTIALS


class AuthorizationHeader:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        values = [value for name, value in scope["headers"] if name == HEADER]
        if len(values) > 1:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": TWO_HEADERS})
            else:
                await send_error(send, 400, TWO_HEADERS, request_id_of(scope))
            return
        value = values[0].decode("latin-1") if values else None
        scope.setdefault("state", {})[STATE_KEY] = Credentials.from_authorization(value)
        await self.app(scope, receive, send)
