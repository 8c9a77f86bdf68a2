"""The GraphQL schema of the contract."""

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from promptgraph.resolvers.mutation import Mutation
from promptgraph.resolvers.query import Query
from promptgraph.schema.errors import ErrorCodes
from promptgraph.schema.scalars import SCALAR_MAP


class PromptGraphSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """ErrorCodes logs the internal errors; client errors are not worth a stack trace."""


def build_schema(**options: Any) -> strawberry.Schema:
    return PromptGraphSchema(
        query=Query,
        mutation=Mutation,
        extensions=[ErrorCodes],
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
        **options,
    )


schema = build_schema()
