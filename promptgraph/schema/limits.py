"""Query limits, checked on the parsed document before it is validated or executed.

Depth, aliases, root fields and cost are measured on the operation that would run, with
fragments expanded and variables substituted (coerced as execution will coerce them).
Cost counts the fields an answer may hold, as GitHub's node limit does: a field returning a
list multiplies everything under it by the number of items the list can hold: its `limit`
argument (its default when not given), the buckets `metricsSeries` spans, the real length
of an introspection list, else `unpaged_list_size`. `render` counts as `render_cost`.

Why it is built this way: a document is small (`max_tokens`), but what it expands to is
not (`fragment F2 { ...F1 ...F1 }` doubles at each step). So every fragment is measured
once, in an order that puts the fragments it spreads first, and spreads combine those
measurements by addition and multiplication, saturating at caps instead of growing: the
work is linear in the document, whatever it expands to. Introspection answers are measured
exactly by walking the schema as execution would; that walk stops once it has counted more
than `max_cost` fields, so its work is bounded by the limit itself. Introspection adds no
depth (GraphiQL's query is deeper than `max_depth`), but its fields, aliases and cost count.
The limits run before validation, whose field-merging rule is quadratic, so a document over
a limit costs nothing more than this linear pass.
"""

from collections.abc import Iterator
from dataclasses import dataclass, replace
from enum import Enum
from types import SimpleNamespace
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    Visitor,
    get_named_type,
    get_nullable_type,
    is_composite_type,
    visit,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.language import Lexer, Source, TokenKind
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef, TypeNameMetaFieldDef
from strawberry.extensions import SchemaExtension, ValidationCache

from promptgraph.config import QueryLimits
from promptgraph.services import metrics
from promptgraph.services.validation import MAX_LIMIT, has_nul

TOO_COMPLEX = "QUERY_TOO_COMPLEX"
# Deeper or costlier queries are reported as this deep or costly: measuring further would
# only cost recursion, or numbers too large for a JSON integer.
DEPTH_MEASURED_UP_TO = 200
COST_MEASURED_UP_TO = 2**53
INTROSPECTION_ROOTS = {"__schema": SchemaMetaFieldDef, "__type": TypeMetaFieldDef}


def too_complex(message: str, limit: str, value: int, maximum: int) -> GraphQLError:
    return GraphQLError(
        message, extensions={"code": TOO_COMPLEX, "limit": limit, "value": value, "max": maximum}
    )


def count_tokens(query: str) -> int:
    lexer, count = Lexer(Source(query)), 0
    while lexer.advance().kind != TokenKind.EOF:
        count += 1
    return count


@dataclass(frozen=True)
class Measurement:
    """Of a selection set: its deepest field, aliases, fields at its top (root fields, for
    the operation's) and cost, fragments expanded."""

    depth: int = 0
    aliases: int = 0
    root_fields: int = 0
    cost: int = 0
    merged_pairs: int = 0  # of the whole operation only: see `_merged_pairs`

    def __add__(self, other: "Measurement") -> "Measurement":
        return Measurement(
            max(self.depth, other.depth),
            min(self.aliases + other.aliases, COST_MEASURED_UP_TO),
            min(self.root_fields + other.root_fields, COST_MEASURED_UP_TO),
            min(self.cost + other.cost, COST_MEASURED_UP_TO),
        )


NOTHING = Measurement()
# Past this nesting nothing is measured further; the cost is then unknown, so it is the cap.
TOO_DEEP_TO_MEASURE = Measurement(depth=DEPTH_MEASURED_UP_TO, cost=COST_MEASURED_UP_TO)


class _Saturated(Exception):
    """A measure reached its cap: the verdict cannot change, so measuring stops."""

    def __init__(self, measurement: Measurement) -> None:
        self.measurement = measurement


def _arguments(definition: GraphQLField, node: FieldNode, variables: VariableValues | None):
    """The field's arguments as execution will see them, or None when they cannot be
    coerced (execution then refuses the field, or the whole operation, before it runs)."""
    try:
        return get_argument_values(definition, node, variables)
    except Exception:  # invalid literals or variables are validation's and execution's to report
        return None


def _is_list(definition: GraphQLField) -> bool:
    return isinstance(get_nullable_type(definition.type), GraphQLList)


class _Measurer:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: VariableValues | None,
        limits: QueryLimits,
        walk_introspection: bool,
    ) -> None:
        self.schema = schema
        self.walk_introspection = walk_introspection
        self.fragments = fragments
        self.variables = variables
        self.limits = limits
        self.measured: dict[str, Measurement] = {}
        # Fields the exact introspection walks may still count, over the whole document.
        self.introspection_left = limits.max_cost + 1
        # Lists inside a type some `limit` field returns are its page: counted by that limit.
        self.page_types = {
            get_named_type(field.type).name
            for named in schema.type_map.values()
            for field in getattr(named, "fields", {}).values()
            if isinstance(field, GraphQLField) and "limit" in field.args
        }

    def operation(self, operation: OperationDefinitionNode) -> Measurement:
        for name in self._fragments_in_dependency_order(operation.selection_set):
            fragment = self.fragments[name]
            condition = self.schema.get_type(fragment.type_condition.name.value)
            self.measured[name] = self._selection_set(fragment.selection_set, condition, 0)
        root = self.schema.get_root_type(operation.operation)
        return self._selection_set(operation.selection_set, root, 0)

    def _fragments_in_dependency_order(self, selection_set: SelectionSetNode) -> list[str]:
        """Fragments the operation reaches, each after those it spreads; a fragment in a
        cycle (which validation refuses) sees the other members as empty."""
        order: list[str] = []
        seen: set[str] = set()
        stack = [(name, False) for name in reversed(_spreads(selection_set))]
        while stack:
            name, finished = stack.pop()
            if finished:
                order.append(name)
                continue
            if name in seen or name not in self.fragments:
                continue
            seen.add(name)
            stack.append((name, True))
            stack.extend((child, False) for child in _spreads(self.fragments[name].selection_set))
        return order

    def _selection_set(
        self, selection_set: SelectionSetNode, parent: Any, level: int
    ) -> Measurement:
        total = NOTHING
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                part = self._field(selection, parent, level)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                part = self._selection_set(selection.selection_set, inner, level)
            elif isinstance(selection, FragmentSpreadNode):
                part = self.measured.get(selection.name.value, NOTHING)
            total = total + part
        if total.cost >= COST_MEASURED_UP_TO:
            raise _Saturated(total)
        return total

    def _definition(self, parent: Any, name: str) -> GraphQLField | None:
        if name == "__typename":
            return TypeNameMetaFieldDef
        if name in INTROSPECTION_ROOTS and parent is self.schema.query_type:
            return INTROSPECTION_ROOTS[name]
        fields = getattr(parent, "fields", None) if is_composite_type(parent) else None
        return fields.get(name) if fields else None

    def _field(self, node: FieldNode, parent: Any, level: int) -> Measurement:
        if level >= DEPTH_MEASURED_UP_TO:
            raise _Saturated(TOO_DEEP_TO_MEASURE)
        definition = self._definition(parent, node.name.value)
        child = get_named_type(definition.type) if definition is not None else None
        below = (
            self._selection_set(node.selection_set, child, level + 1)
            if node.selection_set is not None
            else NOTHING
        )
        aliases = below.aliases + (node.alias is not None)
        if definition is not None and definition is INTROSPECTION_ROOTS.get(node.name.value):
            return Measurement(1, aliases, 1, 1 + self._introspection(node, definition))
        items = self._items(node, parent, definition)
        weight = self.limits.render_cost if node.name.value == "render" else 1
        cost = min(weight + items * below.cost, COST_MEASURED_UP_TO)
        return Measurement(1 + below.depth, aliases, 1, cost)

    def _items(self, node: FieldNode, parent: Any, definition: GraphQLField | None) -> int:
        """How many items the field's answer may hold, for each time it is asked."""
        if definition is None:
            return 1
        if "limit" in definition.args:
            arguments = _arguments(definition, node, self.variables)
            limit = MAX_LIMIT if arguments is None else arguments.get("limit")
            return limit if isinstance(limit, int) and limit > 1 else 1
        if node.name.value == "metricsSeries":
            return self._buckets(node, definition)
        if not _is_list(definition) or not is_composite_type(get_named_type(definition.type)):
            return 1  # a leaf list (tags, labels' names, variables) is one node
        if getattr(parent, "name", None) in self.page_types:
            return 1
        return self.limits.unpaged_list_size

    def _buckets(self, node: FieldNode, definition: GraphQLField) -> int:
        arguments = _arguments(definition, node, self.variables) or {}
        since, until, bucket = (arguments.get(n) for n in ("since", "until", "bucket"))
        try:
            width = metrics.Bucket(bucket.value if isinstance(bucket, Enum) else bucket)
            count = metrics.bucket_count(since, until, width)
        except (TypeError, ValueError, AttributeError):  # not coerced: refused before it runs
            return metrics.MAX_BUCKETS
        return min(max(count, 1), metrics.MAX_BUCKETS)

    def _introspection(self, node: FieldNode, definition: GraphQLField) -> int:
        """The fields the answer of `__schema` or `__type` holds below it, walking the schema
        with graphql-core's own introspection resolvers; over budget, the count stops."""
        if node.selection_set is None or not self.walk_introspection:
            return 0
        arguments = _arguments(definition, node, self.variables) or {}
        info = SimpleNamespace(schema=self.schema)
        try:
            source = definition.resolve(None, info, **arguments)
        except (KeyError, TypeError):  # `__type` without a usable name: refused before it runs
            return 0
        if source is None:
            return 0
        counted = self._walk(node.selection_set, get_named_type(definition.type), source, info, 1)
        return counted

    def _walk(
        self, selection_set: SelectionSetNode, parent: Any, source: Any, info: Any, level: int
    ) -> int:
        if level >= DEPTH_MEASURED_UP_TO:
            raise _Saturated(TOO_DEEP_TO_MEASURE)
        counted = 0
        for field in _collected(selection_set, self.fragments, set(), parent.name):
            counted += 1
            self.introspection_left -= 1
            if self.introspection_left < 0:
                raise _Saturated(Measurement(cost=self.limits.max_cost + 1))
            definition = self._definition(parent, field.name.value)
            if field.selection_set is None or definition is None or definition.resolve is None:
                continue
            arguments = _arguments(definition, field, self.variables)
            if arguments is None:
                continue
            value = definition.resolve(source, info, **arguments)
            child = get_named_type(definition.type)
            for item in (value or ()) if _is_list(definition) else (value,):
                if item is not None:
                    counted += self._walk(field.selection_set, child, item, info, level + 1)
        return counted


def _spreads(selection_set: SelectionSetNode) -> list[str]:
    """Names of the fragments spread in a selection set, not looking into those fragments."""
    names: list[str] = []
    stack = [selection_set]
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                names.append(selection.name.value)
            elif selection.selection_set is not None:
                stack.append(selection.selection_set)
    return names


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
        return NOTHING
    try:
        coerced = get_variable_values(
            schema, operation.variable_definitions or (), variables or {}, max_errors=1
        )
    except Exception:  # variables execution would refuse: measured as unknown
        coerced = []
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    values = coerced if isinstance(coerced, VariableValues) else None
    # The exact introspection walks, the one part not linear in the document, only run once
    # the rest of the document is known to be within the limits.
    for walk_introspection in (False, True):
        measurer = _Measurer(schema, fragments, values, limits, walk_introspection)
        try:
            measurement = measurer.operation(operation)
        except _Saturated as saturated:
            return saturated.measurement
        if check(measurement, limits) is not None:
            return measurement
    return replace(measurement, merged_pairs=_merged_pairs(operation, fragments, limits))


def _merged_pairs(
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    limits: QueryLimits,
) -> int:
    """Pairs of fields validation must compare: those sharing a response name in one
    selection set, after merging same-named fields' selections, as execution merges them
    (each fragment once per selection set). Validation's work grows with this number, not
    with the document's size: `a { a { a { x } } } a { a { a { x } } }`, doubled at each
    level, is small and makes it compare 4**depth pairs. Counting expands the document, so
    it runs only once the cost is known to be within its budget, and stops past that budget
    (reached only below introspection fields that return nothing)."""
    steps_left, pairs = limits.max_cost + 1, 0
    pending: list[list[SelectionSetNode]] = [[operation.selection_set]]
    while pending:
        by_name: dict[str, list[FieldNode]] = {}
        for selection_set in pending.pop():
            for field in _collected(selection_set, fragments, set()):
                steps_left -= 1
                if steps_left < 0:
                    return COST_MEASURED_UP_TO
                name = field.alias.value if field.alias else field.name.value
                by_name.setdefault(name, []).append(field)
        for fields in by_name.values():
            pairs += len(fields) * (len(fields) - 1) // 2
            merged = [f.selection_set for f in fields if f.selection_set is not None]
            if merged:
                pending.append(merged)
    return pairs


def _collected(
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    visited: set[str],
    type_name: str | None = None,
) -> Iterator[FieldNode]:
    """The fields execution collects from a selection set: each fragment once, and with a
    `type_name`, only fragments on that type. Without recursion: a chain of fragments may be
    as long as the document."""
    stack = [iter(selection_set.selections)]
    while stack:
        selection = next(stack[-1], None)
        if selection is None:
            stack.pop()
            continue
        if isinstance(selection, FieldNode):
            yield selection
            continue
        if isinstance(selection, InlineFragmentNode):
            condition, inner = selection.type_condition, selection.selection_set
        else:
            name = selection.name.value
            if name in visited or name not in fragments:
                continue
            visited.add(name)
            condition, inner = fragments[name].type_condition, fragments[name].selection_set
        if type_name is None or condition is None or condition.name.value == type_name:
            stack.append(iter(inner.selections))


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
    (
        "merged_pairs",
        "max_merged_pairs",
        "maxMergedPairs",
        "{value} pairs of fields sharing a name to merge exceed the limit of {max}",
    ),
)


def check(measurement: Measurement, limits: QueryLimits) -> GraphQLError | None:
    for measured, setting, name, message in _CHECKS:
        value, maximum = getattr(measurement, measured), getattr(limits, setting)
        if value > maximum:
            text = message.format(value=value, max=maximum)
            return too_complex(f"{text} (PROMPTGRAPH_{setting.upper()})", name, value, maximum)
    return None


class QueryLimitsExtension(SchemaExtension):
    """Runs before validation (see ValidationWithinLimits): a document over a limit is
    refused after one linear pass, before validation's quadratic field merging."""

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


class ValidationWithinLimits(ValidationCache):
    """Strawberry's validation cache, skipped for a document the limits already refused
    (it would otherwise validate it anyway and overwrite their verdict)."""

    def on_validate(self) -> Iterator[None]:
        if self.execution_context.pre_execution_errors:
            yield
            return
        yield from super().on_validate()


class RejectNulCharacters(SchemaExtension):
    """Neither database stores a NUL character in text, so a request carrying one, in a
    literal or a variable, is refused up front instead of failing half-way."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and not context.pre_execution_errors:
            literals = [node.value for node in _string_literals(document)]
            if has_nul(literals) or has_nul(context.variables or {}):
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
