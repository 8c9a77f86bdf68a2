"""The process's Prometheus instruments, served at GET /metrics (see `http/metrics.py`).

Every instrument is defined here, once per process, so each part of the service updates
the same one: import it and call it. Labels never carry tenant data (no workspace, prompt,
key or user): only operation types, outcomes and cache results, a fixed few values each.
"""

from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram
from strawberry.extensions import SchemaExtension

OPERATIONS = ("query", "mutation", "subscription")
# An HTTP request refused before its document was read (bad body, media type, key...).
NO_OPERATION = "none"
OUTCOMES = ("ok", "error", "internal_error")

REQUESTS = Counter(
    "promptgraph_requests",
    "GraphQL requests (HTTP) and subscriptions (WebSocket) by operation type and outcome: "
    "ok, error (the client's: a request or field error with a client code), "
    "internal_error (INTERNAL_SERVER_ERROR or an HTTP 5xx).",
    ["operation", "outcome"],
)
REQUEST_SECONDS = Histogram(
    "promptgraph_request_duration_seconds",
    "Time from a GraphQL HTTP request's arrival to the end of its response, by operation type.",
    ["operation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RESPONSE_CACHE_LOOKUPS = Counter(
    "promptgraph_response_cache_lookups",
    "Response-cache lookups of POST /graphql requests: hit (answered from memory) or miss.",
    ["result"],
)
USAGES_RECORDED = Counter(
    "promptgraph_usages_recorded",
    "Usage records accepted by recordUsage and recordUsages (an idempotent replay counts).",
)
OPEN_SUBSCRIPTIONS = Gauge(
    "promptgraph_open_subscriptions",
    "Subscriptions open in this process: inc() when one starts, dec() when it ends.",
)
CHANGE_DELIVERY_LAG_SECONDS = Histogram(
    "promptgraph_change_delivery_lag_seconds",
    "Time from a change's commit to its delivery to a subscriber: observe() it per delivery.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

for _operation in (*OPERATIONS, NO_OPERATION):
    REQUEST_SECONDS.labels(_operation)
    for _outcome in OUTCOMES:
        REQUESTS.labels(_operation, _outcome)
for _result in ("hit", "miss"):
    RESPONSE_CACHE_LOOKUPS.labels(_result)


@dataclass
class Observation:
    """What one HTTP request's way through the app tells its metrics middleware."""

    operation: str | None = None
    errors: bool = False
    internal_error: bool = False


current_observation: ContextVar[Observation | None] = ContextVar(
    "promptgraph_observation", default=None
)


def outcome_of(errors: bool, internal_error: bool) -> str:
    return "internal_error" if internal_error else "error" if errors else "ok"


class OperationMetrics(SchemaExtension):
    """Tells the HTTP request's observation its operation type and whether it failed; counts
    WebSocket subscriptions itself, having no HTTP request around them. Must come before
    ErrorCodes so that it sees the errors' final codes."""

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context
        try:
            operation = context.operation_type.value
        except RuntimeError:  # the document did not parse or names no operation
            operation = NO_OPERATION
        errors = list(getattr(context.result, "errors", None) or context.pre_execution_errors or [])
        internal_error = any(
            (error.extensions or {}).get("code") == "INTERNAL_SERVER_ERROR" for error in errors
        )
        observation = current_observation.get()
        if observation is None:
            REQUESTS.labels(operation, outcome_of(bool(errors), internal_error)).inc()
            return
        observation.operation = operation
        observation.errors = observation.errors or bool(errors)
        observation.internal_error = observation.internal_error or internal_error


def record_cache_lookup(hit: bool) -> None:
    """Called by the response cache; an answer from it is a query's."""
    RESPONSE_CACHE_LOOKUPS.labels("hit" if hit else "miss").inc()
    observation = current_observation.get()
    if hit and observation is not None:
        observation.operation = "query"
