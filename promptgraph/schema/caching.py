"""Parsing and validation are pure functions of the query text: agents send the same few
documents again and again, so both are cached (bounded LRU, shared by all requests)."""

from collections.abc import Iterator
from contextlib import suppress
from functools import lru_cache

from graphql import DocumentNode, GraphQLError, parse
from strawberry.extensions import SchemaExtension

CACHED_DOCUMENTS = 512


@lru_cache(maxsize=CACHED_DOCUMENTS)
def _parse(query: str, max_tokens: int | None) -> DocumentNode:
    return parse(query, max_tokens=max_tokens)


class ParseCache(SchemaExtension):
    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        # A document that does not parse is not cached: strawberry parses it again and
        # reports the error as usual.
        if context.query is not None:
            with suppress(GraphQLError):
                context.graphql_document = _parse(
                    context.query, context.parse_options.get("max_tokens")
                )
        yield
