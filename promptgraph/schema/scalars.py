"""Custom scalars: RFC 3339 UTC DateTime, and VersionSelector (a positive Int or "latest")."""

from datetime import UTC, datetime
from typing import Any, NewType

import strawberry
from graphql import (
    IntValueNode,
    ListValueNode,
    ObjectValueNode,
    StringValueNode,
    ValueNode,
    value_from_ast_untyped,
)
from strawberry.scalars import JSON

from promptgraph.services.validation import LATEST, MAX_STORED_INT


def _serialize_datetime(value: datetime) -> str:
    text = value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return text


def _parse_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime must be an RFC 3339 string such as 2024-01-15T10:00:00Z")
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise ValueError(
            f"{value!r} is not an RFC 3339 DateTime such as 2024-01-15T10:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone: add Z or an offset")
    return parsed.astimezone(UTC)


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

MAX_JSON_DEPTH = 32


def _json_depth(value: Any) -> int:
    """Nesting depth of a JSON value or literal, without recursion (it may be hostile).
    Integers beyond 64 bits are refused on the way: no JSON encoder downstream takes them."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, IntValueNode):
            item = int(item.value)
        if isinstance(item, int) and not -(2**63) <= item < 2**63:
            raise ValueError("JSON integers must fit in 64 bits")
        if isinstance(item, ObjectValueNode):
            item = [field.value for field in item.fields]
        elif isinstance(item, ListValueNode):
            item = list(item.values)
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                break
            stack.extend((child, depth + 1) for child in item)
    return deepest


def _bounded_json(value: Any) -> Any:
    if _json_depth(value) > MAX_JSON_DEPTH:
        raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def _parse_json_literal(node: ValueNode, variables: Any = None) -> Any:
    _bounded_json(node)
    return value_from_ast_untyped(node, variables)


BOUNDED_JSON = strawberry.scalar(
    name="JSON",
    description=f"A JSON value (ECMA-404), nested at most {MAX_JSON_DEPTH} levels deep",
    specified_by_url="https://ecma-international.org/publications-and-standards/standards/ecma-404/",
    serialize=lambda value: value,
    parse_value=_bounded_json,
    parse_literal=_parse_json_literal,
)

SCALAR_MAP = {
    datetime: DATETIME,
    VersionSelector: VERSION_SELECTOR,
    JSON: BOUNDED_JSON,
}
