"""Request headers are limited to 16 KiB in all (contract section 6): HTTP 431 above, before
anything reads them, so no oversized header (an 8 MB Authorization, say) reaches auth, the
caches or the database. `promptgraph serve` also stops reading a request whose headers grow
past the limit (`promptgraph.http.server`); this check covers every other way of serving
the app, and headers that arrived whole."""

from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from promptgraph.http.errors import send_error
from promptgraph.http.request_id import request_id_of

# Not a setting yet: configuration is being moved to pydantic-settings.
MAX_HEADER_BYTES = 16 * 1024
# Each header line on the wire is `name: value\r\n`.
LINE_OVERHEAD = 4
MESSAGE = f"request headers over {MAX_HEADER_BYTES} bytes in all"


def header_bytes(headers: Iterable[tuple[bytes, bytes]]) -> int:
    return sum(len(name) + len(value) + LINE_OVERHEAD for name, value in headers)


class HeaderSizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_HEADER_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and header_bytes(scope["headers"]) > (
            self.max_bytes
        ):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": MESSAGE})
            else:
                await send_error(send, 431, MESSAGE, request_id_of(scope))
            return
        await self.app(scope, receive, send)
