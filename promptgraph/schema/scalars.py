"""Custom scalars: RFC 3339 UTC DateTime, VersionSelector (a positive Int or "latest") and
JSON, bounded by the rules of every JSON value (services/validation.py)."""

import re
from datetime import UTC, datetime
from typing import Any, NewType

import strawberry
from graphql import (
    BooleanValueNode,
    EnumValueNode,
    FloatValueNode,
    GraphQLError,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    ObjectValueNode,
    StringValueNode,
    ValueNode,
    VariableNode,
)
from strawberry.scalars import JSON

from promptgraph.services.validation import (
    LATEST,
    MAX_JSON_DEPTH,
    MAX_STORED_INT,
    invalid_json,
    shown,
)


def _serialize_datetime(value: datetime) -> str:
    text = value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return text


# RFC 3339 section 5.6 `date-time`: T or t (or, as its note allows, a space) between date
# and time; Z, z or a numeric offset, which is required. ASCII digits only. The shape is
# checked here; the ranges (month 13, February 30, offset +24:00) by datetime itself.
RFC_3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:(\d{2})(?:\.\d+)?(?:[Zz]|[+-]\d{2}:[0-5]\d)",
    re.ASCII,
)
DATETIME_EXAMPLE = "2024-01-15T10:00:00Z"


def _parse_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"DateTime must be an RFC 3339 string such as {DATETIME_EXAMPLE}")
    match = RFC_3339.fullmatch(value)
    if match is None:
        raise ValueError(
            f"{shown(value)} is not an RFC 3339 date-time such as {DATETIME_EXAMPLE} "
            "(YYYY-MM-DDTHH:MM:SS[.fraction] and Z or an offset ±HH:MM)"
        )
    if match[1] == "60":
        raise ValueError(f"{shown(value)}: leap seconds (:60) are not supported")
    try:
        # Within this shape, fromisoformat reads exactly RFC 3339 (fractions beyond
        # microseconds are truncated).
        return datetime.fromisoformat(value.replace("z", "Z")).astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError(f"{shown(value)} is not a valid date and time") from None


VersionSelector = NewType("VersionSelector", object)

DATETIME = strawberry.scalar(
    name="DateTime",
    description="An RFC 3339 date-time in UTC, e.g. 2024-01-15T10:00:00Z",
    serialize=_serialize_datetime,
    parse_value=_parse_datetime,
)


def _parse_selector(value: Any) -> int | str:
    if value == LATEST:
        return LATEST
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_STORED_INT:
        return value
    raise ValueError(
        f'VersionSelector must be an Int from 1 to {MAX_STORED_INT} or "latest", got {value!r}'
    )


def _parse_selector_literal(node: ValueNode, _variables: Any = None) -> int | str:
    if isinstance(node, IntValueNode):
        return _parse_selector(int(node.value))
    if isinstance(node, StringValueNode):
        return _parse_selector(node.value)
    raise ValueError('VersionSelector must be a positive Int or "latest"')


VERSION_SELECTOR = strawberry.scalar(
    name="VersionSelector",
    description='A version number (a positive Int) or the String "latest"',
    serialize=lambda value: value,
    parse_value=_parse_selector,
    parse_literal=_parse_selector_literal,
)


def _invalid_json(problem: str) -> GraphQLError:
    """Raised from a literal, it keeps its code: graphql-core reports a GraphQLError from
    parse_literal as it is, also when execution finds it after substituting variables."""
    return GraphQLError(problem, extensions={"code": "BAD_USER_INPUT"})


def _literal_depth(node: ValueNode) -> int:
    """Nesting of a literal as written, without recursion (it may be hostile)."""
    deepest, stack = 0, [(node, 0)]
    while stack and deepest <= MAX_JSON_DEPTH:
        item, depth = stack.pop()
        if isinstance(item, ObjectValueNode | ListValueNode):
            deepest = max(deepest, depth + 1)
            children = (
                item.values
                if isinstance(item, ListValueNode)
                else [field.value for field in item.fields]
            )
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _literal_value(node: ValueNode, variables: dict[str, Any] | None) -> Any:
    """The JSON value of a literal, variables substituted (a variable not given is null)."""
    if isinstance(node, VariableNode):
        return (variables or {}).get(node.name.value)
    if isinstance(node, ObjectValueNode):
        return {field.name.value: _literal_value(field.value, variables) for field in node.fields}
    if isinstance(node, ListValueNode):
        return [_literal_value(item, variables) for item in node.values]
    if isinstance(node, IntValueNode):
        if len(node.value) > 20:  # beyond 64 bits whatever the digits
            raise _invalid_json("JSON integers must fit in 64 bits")
        return int(node.value)
    if isinstance(node, FloatValueNode):
        return float(node.value)
    if isinstance(node, NullValueNode):
        return None
    if isinstance(node, StringValueNode | BooleanValueNode | EnumValueNode):
        return node.value
    raise _invalid_json(f"{node.kind} is not a JSON value")


def _parse_json_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
    """Every JSON rule holds on the value after substitution: a list-typed variable inside
    a literal adds its own levels to the literal's."""
    if _literal_depth(node) > MAX_JSON_DEPTH:
        raise _invalid_json(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    value = _literal_value(node, variables)
    problem = invalid_json(value)
    if problem is not None:
        raise _invalid_json(problem)
    return value


def _parse_json_value(value: Any) -> Any:
    problem = invalid_json(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _serialize_json(value: Any) -> Any:
    """Defence in depth: a stored value that breaks a rule (written before the rule, or by
    hand) fails its own field, masked and logged, instead of the encoder failing the whole
    response."""
    problem = invalid_json(value)
    if problem is not None:
        raise ValueError(f"stored JSON cannot be sent: {problem}")
    return value


BOUNDED_JSON = strawberry.scalar(
    name="JSON",
    description=f"A JSON value (ECMA-404), nested at most {MAX_JSON_DEPTH} levels deep",
    specified_by_url="https://ecma-international.org/publications-and-standards/standards/ecma-404/",
    serialize=_serialize_json,
    parse_value=_parse_json_value,
    parse_literal=_parse_json_literal,
)

SCALAR_MAP = {
    datetime: DATETIME,
    VersionSelector: VERSION_SELECTOR,
    JSON: BOUNDED_JSON,
}
