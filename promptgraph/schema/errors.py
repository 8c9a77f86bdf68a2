"""Every error in a response carries a contract code; internal ones are masked and logged."""

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from promptgraph.db import is_unavailable
from promptgraph.services.errors import ApiError, StoreUnavailable

logger = logging.getLogger("promptgraph.errors")

CLIENT_CODES = frozenset(
    {"UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "CONFLICT", "BAD_USER_INPUT", "QUERY_TOO_COMPLEX"}
)
INTERNAL_MESSAGE = "Internal server error"


def _request_id(extension: SchemaExtension) -> str:
    return getattr(extension.execution_context.context, "request_id", "-")


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not getattr(result, "errors", None):
            return
        request_id = _request_id(self)
        result.errors = [self._coded(error, request_id) for error in result.errors]

    @staticmethod
    def _coded(error: GraphQLError, request_id: str) -> GraphQLError:
        code = (error.extensions or {}).get("code")
        if isinstance(error.original_error, ApiError) or code in CLIENT_CODES:
            error.extensions = {**(error.extensions or {}), "requestId": request_id}
            return error
        if error.path is None:
            # Before execution: syntax, validation or variable coercion, all the client's doing.
            error.extensions = {"code": "BAD_USER_INPUT", "requestId": request_id}
            return error
        if error.original_error is not None and is_unavailable(error.original_error):
            logger.warning("store unavailable, request %s: %r", request_id, error.original_error)
            unavailable = StoreUnavailable(request_id)
            return GraphQLError(
                unavailable.message,
                nodes=error.nodes,
                path=error.path,
                extensions=unavailable.extensions,
            )
        logger.error(
            "internal error, request %s, path %s",
            request_id,
            ".".join(map(str, error.path)),
            exc_info=error.original_error or error,
        )
        return GraphQLError(
            INTERNAL_MESSAGE,
            nodes=error.nodes,
            path=error.path,
            extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
        )
