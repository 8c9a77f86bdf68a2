"""Query limits, checked on the parsed document before it is validated or executed.

Depth, aliases, root fields and cost are measured on the operation that would run, with
fragments expanded; introspection (`__schema`, `__type`, `__typename`) costs nothing and
adds no depth, so GraphiQL keeps working. Cost counts the nodes a query may touch, as
GitHub's node limit does: a field taking `limit` multiplies everything under it by that
limit (its default when not given).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    VariableNode,
    Visitor,
    get_named_type,
    visit,
)
from graphql.language import Lexer, Source, TokenKind
from strawberry.extensions import SchemaExtension

from promptgraph.config import QueryLimits

TOO_COMPLEX = "QUERY_TOO_COMPLEX"
# Deeper or costlier queries are reported as this deep or costly: measuring further would
# only cost recursion, or numbers too large for a JSON integer.
DEPTH_MEASURED_UP_TO = 200
COST_MEASURED_UP_TO = 2**53


def too_complex(message: str, limit: str, value: int, maximum: int) -> GraphQLError:
    return GraphQLError(
        message, extensions={"code": TOO_COMPLEX, "limit": limit, "value": value, "max": maximum}
    )


def count_tokens(query: str) -> int:
    lexer, count = Lexer(Source(query)), 0
    while lexer.advance().kind != TokenKind.EOF:
        count += 1
    return count


@dataclass
class Measurement:
    depth: int = 0
    aliases: int = 0
    root_fields: int = 0
    cost: int = 0


class _Walker:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
        variable_defaults: dict[str, Any],
        depth_cutoff: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.variable_defaults = variable_defaults
        self.depth_cutoff = depth_cutoff
        self.measurement = Measurement()

    def _fields(
        self, selection_set: SelectionSetNode, parent: Any, seen: frozenset[str]
    ) -> Iterator[tuple[FieldNode, Any]]:
        """The fields of a selection set, fragments expanded, each with its parent type."""
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection, parent
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                yield from self._fields(selection.selection_set, inner, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:  # validation reports these
                    continue
                inner = self.schema.get_type(fragment.type_condition.name.value)
                yield from self._fields(fragment.selection_set, inner, seen | {name})

    def _limit(self, field: FieldNode, definition: Any) -> int:
        argument = definition.args.get("limit") if definition is not None else None
        if argument is None:
            return 1
        value: Any = argument.default_value
        for node in field.arguments or ():
            if node.name.value != "limit":
                continue
            if isinstance(node.value, IntValueNode):
                value = int(node.value.value)
            elif isinstance(node.value, VariableNode):
                name = node.value.name.value
                value = self.variables.get(name, self.variable_defaults.get(name, value))
        return value if isinstance(value, int) and value > 0 else 1

    def walk(
        self,
        selection_set: SelectionSetNode,
        parent: Any,
        depth: int,
        multiplier: int,
        seen: frozenset[str] = frozenset(),
    ) -> None:
        for field, parent_type in self._fields(selection_set, parent, seen):
            if field.alias is not None:
                self.measurement.aliases += 1
            name = field.name.value
            if depth == 1:
                self.measurement.root_fields += 1
            if name.startswith("__"):
                continue
            self.measurement.cost = min(self.measurement.cost + multiplier, COST_MEASURED_UP_TO)
            self.measurement.depth = max(self.measurement.depth, depth)
            if field.selection_set is None or depth >= self.depth_cutoff:
                continue
            definition = (
                parent_type.fields.get(name) if isinstance(parent_type, GraphQLObjectType) else None
            )
            child_type = get_named_type(definition.type) if definition is not None else None
            self.walk(
                field.selection_set,
                child_type,
                depth + 1,
                min(multiplier * self._limit(field, definition), COST_MEASURED_UP_TO),
                seen,
            )


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((op for op in operations if op.name and op.name.value == name), None)


def measure(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    limits: QueryLimits,
) -> Measurement:
    operation = _operation(document, operation_name)
    if operation is None:  # validation reports a missing or ambiguous operation
        return Measurement()
    root = schema.get_root_type(operation.operation)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    defaults: dict[str, Any] = {}
    for definition in operation.variable_definitions or ():
        if isinstance(definition.default_value, IntValueNode):
            defaults[definition.variable.name.value] = int(definition.default_value.value)
    walker = _Walker(schema, fragments, variables or {}, defaults, DEPTH_MEASURED_UP_TO)
    walker.walk(operation.selection_set, root, 1, 1)
    return walker.measurement


# (measured value, limit field, `extensions.limit`, message), in the order they are checked.
_CHECKS = (
    ("depth", "max_depth", "maxDepth", "query depth {value} exceeds the limit of {max}"),
    ("aliases", "max_aliases", "maxAliases", "{value} aliases exceed the limit of {max}"),
    (
        "root_fields",
        "max_root_fields",
        "maxRootFields",
        "{value} root fields exceed the limit of {max}",
    ),
    ("cost", "max_cost", "maxCost", "query cost {value} nodes exceeds the budget of {max}"),
)


def check(measurement: Measurement, limits: QueryLimits) -> GraphQLError | None:
    for measured, setting, name, message in _CHECKS:
        value, maximum = getattr(measurement, measured), getattr(limits, setting)
        if value > maximum:
            text = message.format(value=value, max=maximum)
            return too_complex(f"{text} (PROMPTGRAPH_{setting.upper()})", name, value, maximum)
    return None


class QueryLimitsExtension(SchemaExtension):
    def __init__(self, *, limits: QueryLimits) -> None:
        self.limits = limits

    def on_operation(self) -> Iterator[None]:
        self.execution_context.parse_options["max_tokens"] = self.limits.max_tokens
        yield
        result = self.execution_context.result
        query = self.execution_context.query
        if result is None or not result.errors or not query:
            return
        for index, error in enumerate(result.errors):
            if "Document contains more than" in error.message:
                tokens = count_tokens(query)
                result.errors[index] = too_complex(
                    f"the query has {tokens} tokens, over the limit of {self.limits.max_tokens} "
                    "(PROMPTGRAPH_MAX_TOKENS)",
                    "maxTokens",
                    tokens,
                    self.limits.max_tokens,
                )

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        # Runs after the validation cache, which leaves [] when the document is valid.
        if context.graphql_document is not None and not context.pre_execution_errors:
            error = check(
                measure(
                    context.schema._schema,
                    context.graphql_document,
                    context.operation_name,
                    context.variables,
                    self.limits,
                ),
                self.limits,
            )
            if error is not None:
                context.pre_execution_errors = [error]
        yield


NUL = "\x00"


def _has_nul(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class RejectNulCharacters(SchemaExtension):
    """Neither database stores a NUL character in text, so a request carrying one, in a
    literal or a variable, is refused up front instead of failing half-way."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and not context.pre_execution_errors:
            literals = [node.value for node in _string_literals(document)]
            if _has_nul(literals) or _has_nul(context.variables or {}):
                context.pre_execution_errors = [
                    GraphQLError(
                        "text must not contain NUL (\\u0000) characters",
                        extensions={"code": "BAD_USER_INPUT"},
                    )
                ]
        yield


def _string_literals(document: DocumentNode) -> list[StringValueNode]:
    found: list[StringValueNode] = []

    class Collect(Visitor):
        def enter_string_value(self, node: StringValueNode, *_args: Any) -> None:
            found.append(node)

    visit(document, Collect())
    return found
