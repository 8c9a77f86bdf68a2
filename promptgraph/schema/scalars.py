"""Custom scalars: RFC 3339 UTC DateTime, and VersionSelector (a positive Int or "latest")."""

from datetime import UTC, datetime
from typing import Any, NewType

import strawberry
from graphql import IntValueNode, StringValueNode, ValueNode

from promptgraph.services.validation import LATEST


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
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise ValueError(f'VersionSelector must be a positive Int or "latest", got {value!r}')


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

SCALAR_MAP = {datetime: DATETIME, VersionSelector: VERSION_SELECTOR}
