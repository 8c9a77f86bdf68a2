"""Parsing and validation are pure functions of the query text: agents send the same few
documents again and again, so both are cached (bounded LRU, shared by all requests). Also
which answers the response cache may keep."""

from collections.abc import Iterator
from contextlib import suppress
from functools import lru_cache
from typing import Any

from graphql import (
    BREAK,
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    parse,
    visit,
)
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

CACHED_DOCUMENTS = 512


@lru_cache(maxsize=CACHED_DOCUMENTS)
def parse_document(query: str, max_tokens: int | None) -> DocumentNode:
    return parse(query, max_tokens=max_tokens)


class ParseCache(SchemaExtension):
    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        # A document that does not parse is not cached: strawberry parses it again and
        # reports the error as usual.
        if context.query is not None:
            with suppress(GraphQLError):
                context.graphql_document = parse_document(
                    context.query, context.parse_options.get("max_tokens")
                )
        yield


# The fields whose answers depend on nothing but the registry (prompts, versions, labels,
# tags) and the caller's key: every write to those is announced to the
# response cache (promptgraph/changes.py). Traces and usages are not announced, since
# ingest is the hot write path, so a query selecting any field outside this table (the
# analytics) is never cached. tests/test_response_cache.py fails when a schema field is in
# neither this table nor ANALYTICS_FIELDS.
REGISTRY_FIELDS: dict[str, frozenset[str]] = {
    "Query": frozenset({"prompt", "promptVersion", "promptVersions", "prompts", "viewer"}),
    "Prompt": frozenset(
        {
            "createdAt", "fqn", "id", "labels", "latestVersion", "name", "type",
            "updatedAt", "version", "versionCount", "versions",
        }
    ),
    "PromptVersion": frozenset(
        {
            "createdAt", "createdBy", "description", "fqn", "id", "isActive", "isLatest",
            "labels", "messages", "metadata", "modelConfig", "models", "name", "prompt",
            "render", "responseFormat", "revisions", "tags", "templateText", "tools", "type",
            "updatedAt", "variables", "version",
        }
    ),
    "PromptPage": frozenset({"items", "pagination"}),
    "PromptVersionPage": frozenset({"items", "pagination"}),
    "Pagination": frozenset({"limit", "offset", "total"}),
    "Label": frozenset({"name", "updatedAt", "version"}),
    "PromptRevision": frozenset(
        {
            "description", "messages", "metadata", "modelConfig", "models", "replacedAt",
            "replacedBy", "responseFormat", "templateText", "tools",
        }
    ),
    "ChatMessage": frozenset({"content", "name", "role"}),
    "ModelConfig": frozenset({"model", "parameters", "provider"}),
    "RenderedPrompt": frozenset({"messages", "text"}),
    "Viewer": frozenset({"role", "user", "workspace"}),
}  # fmt: skip
ANALYTICS_FIELDS = frozenset(
    {"Query.comparePromptVersions", "PromptVersion.metrics", "PromptVersion.metricsSeries"}
)


@lru_cache(maxsize=CACHED_DOCUMENTS)
def _selects_registry_only(schema: GraphQLSchema, query: str, max_tokens: int | None) -> bool:
    """Whether every field in the document (all its operations and fragments) is a registry
    field; introspection's fields (`__typename`, `__schema`...) are fixed, so they are too."""
    document = parse_document(query, max_tokens)
    type_info = TypeInfo(schema)
    registry_only = True

    class Fields(Visitor):
        def enter_field(self, node: FieldNode, *_args: Any) -> Any:
            nonlocal registry_only
            parent = type_info.get_parent_type()
            name = node.name.value
            if name.startswith("__"):
                return None
            if parent is None or name not in REGISTRY_FIELDS.get(parent.name, ()):
                registry_only = False
                return BREAK
            return None

    visit(document, TypeInfoVisitor(type_info, Fields()))
    return registry_only


class MarkCacheableAnswers(SchemaExtension):
    """Tells the response cache (through the request's ticket) that this answer may be
    reused: a query, selecting registry fields only, answered without any error."""

    def on_execute(self) -> Iterator[None]:
        yield
        context = self.execution_context
        ticket = getattr(context.context, "cache_ticket", None)
        result = context.result
        if (
            ticket is not None
            and context.query is not None
            and context.operation_type is OperationType.QUERY
            and result is not None
            and not result.errors
        ):
            ticket.cacheable = _selects_registry_only(
                context.schema._schema, context.query, context.parse_options.get("max_tokens")
            )
