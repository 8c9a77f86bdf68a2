"""What `promptgraph serve` speaks: uvicorn's httptools protocol, which buffers a request's
headers without any limit before the app sees them (an 8 MB header is read whole), with the
16 KiB header limit enforced while they arrive. A request whose headers are still arriving
past the limit is answered 431 (GraphQL-shaped, with a request id) and its connection
closed; headers that arrived whole are checked by `header_limit.HeaderSizeLimit` in the app,
so at most one read from the socket is buffered beyond the limit."""

import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from promptgraph.http.errors import JSON_MEDIA_TYPE, error_body
from promptgraph.http.header_limit import MAX_HEADER_BYTES, MESSAGE
from promptgraph.http.request_id import HEADER as REQUEST_ID_HEADER
from promptgraph.http.request_id import request_id_from

logger = logging.getLogger("promptgraph.http")

# The request line (`POST /graphql HTTP/1.1\r\n`, less its URL) and the blank line that ends
# the head: bytes of a head that are neither URL nor headers.
HEAD_OVERHEAD = 64


class HeaderLimitedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reading_head = True
        self._head_bytes = 0
        self._refused = False

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_head = True

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading_head = True

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)
        if not self._reading_head or self.transport.is_closing():
            return
        # Bytes of a head still incomplete; with pipelining, also the tail of the request
        # before it that came in the same read, which only makes the limit stricter.
        self._head_bytes += len(data)
        url = len(self.url) if self.headers is not None else 0
        if self._head_bytes - url - HEAD_OVERHEAD > MAX_HEADER_BYTES:
            self._refuse_head()

    def _refuse_head(self) -> None:
        self._refused = True
        # The client's id if its header came before the limit was passed.
        request_id = request_id_from(self.headers or ())
        logger.warning("request %s refused: %s", request_id, MESSAGE)
        body = error_body(MESSAGE, request_id)
        content = [STATUS_LINE[431]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                f"content-type: {JSON_MEDIA_TYPE}; charset=utf-8\r\n".encode(),
                b"content-length: " + str(len(body)).encode() + b"\r\n",
                REQUEST_ID_HEADER + b": " + request_id.encode() + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()
