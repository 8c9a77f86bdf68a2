"""GET /metrics, and the middleware that times and counts GraphQL HTTP requests."""

import time

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from promptgraph.telemetry import (
    NO_OPERATION,
    REQUEST_SECONDS,
    REQUESTS,
    Observation,
    current_observation,
    outcome_of,
)


async def metrics_endpoint(_request: Request) -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


class RequestMetrics:
    """Counts each GET or POST to `path` by operation type and outcome, and times it to
    the last byte of its response. Outermost but for CORS, so that answers from the response
    cache and requests refused before GraphQL (size, media type, key) are counted too."""

    def __init__(self, app: ASGIApp, path: str = "/graphql") -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in {"GET", "POST"}
            or scope["path"] != self.path
        ):
            await self.app(scope, receive, send)
            return
        observation = Observation()
        token = current_observation.set(observation)
        started = time.perf_counter()
        status = 500

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            current_observation.reset(token)
            operation = observation.operation or NO_OPERATION
            errors = observation.errors or status >= 400
            internal_error = observation.internal_error or status >= 500
            REQUESTS.labels(operation, outcome_of(errors, internal_error)).inc()
            REQUEST_SECONDS.labels(operation).observe(time.perf_counter() - started)
