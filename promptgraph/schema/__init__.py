"""The GraphQL schema of the contract."""

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import DisableIntrospection
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from promptgraph.config import Settings
from promptgraph.resolvers.mutation import Mutation
from promptgraph.resolvers.query import Query
from promptgraph.schema.caching import CACHED_DOCUMENTS, MarkCacheableAnswers, ParseCache
from promptgraph.schema.errors import ErrorCodes
from promptgraph.schema.limits import (
    QueryLimitsExtension,
    RejectNulCharacters,
    ValidationWithinLimits,
)
from promptgraph.schema.scalars import SCALAR_MAP
from promptgraph.telemetry import OperationMetrics


class PromptGraphSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """ErrorCodes logs the internal errors; client errors are not worth a stack trace."""


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    # Order matters: hooks run in this order (and finish in reverse). The limits run before
    # validation, which is skipped for a document they refuse.
    extensions: list[Any] = [
        OperationMetrics,
        ErrorCodes,
        ParseCache,
        lambda: QueryLimitsExtension(limits=settings.limits),
        lambda: ValidationWithinLimits(maxsize=CACHED_DOCUMENTS),
        RejectNulCharacters,
        MarkCacheableAnswers,
    ]
    if not settings.introspection:
        extensions.append(DisableIntrospection)
    return PromptGraphSchema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
    )
