"""Checks on client input. Each failure is a BAD_USER_INPUT naming what was wrong."""

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from promptgraph.services.errors import BadUserInput

PROMPT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
WORKSPACE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
LABEL_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
FQN = re.compile(r"prompt:(?P<workspace>[^/:]+)/(?P<name>[^/:]+)(?::(?P<version>[^/:]+))?")
RESERVED_LABELS = frozenset({"latest"})
LATEST = "latest"

MAX_LIMIT = 100
# Ids and version numbers are 32-bit integer columns; a larger number matches nothing.
MAX_STORED_INT = 2**31 - 1
MAX_TAGS = 50
MAX_TAG_LENGTH = 64
MAX_USER_NAME_LENGTH = 128

VersionSelector = int | Literal["latest"]


def _has_control_characters(value: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in value)


def prompt_name(name: str, field: str = "name") -> str:
    if not PROMPT_NAME.fullmatch(name):
        raise BadUserInput(
            f"{field} {name!r} is not a valid prompt name: 1 to 128 characters of letters, "
            "digits, '.', '_' or '-', starting with a letter or digit",
            field=field,
        )
    return name


def workspace_name(name: str) -> str:
    if not WORKSPACE_NAME.fullmatch(name):
        raise BadUserInput(
            f"workspace {name!r} is not a valid name: 1 to 64 characters of letters, digits, "
            "'.', '_' or '-', starting with a letter or digit"
        )
    return name


def user_name(name: str) -> str:
    if not name.strip() or len(name) > MAX_USER_NAME_LENGTH or _has_control_characters(name):
        raise BadUserInput(f"user {name!r} must be 1 to 128 characters, no control characters")
    return name


def label_name(name: str) -> str:
    if name in RESERVED_LABELS:
        raise BadUserInput(f"label {name!r} is reserved", field="label")
    if not LABEL_NAME.fullmatch(name):
        raise BadUserInput(
            f"label {name!r} is not valid: 1 to 63 characters of lowercase letters, digits, "
            "'.', '_' or '-', starting with a letter or digit",
            field="label",
        )
    return name


def tags(values: Iterable[str]) -> list[str]:
    """Validated, de-duplicated and sorted."""
    unique = sorted(set(values))
    if len(unique) > MAX_TAGS:
        raise BadUserInput(f"at most {MAX_TAGS} tags per version, got {len(unique)}", field="tags")
    for tag in unique:
        if not 1 <= len(tag) <= MAX_TAG_LENGTH or _has_control_characters(tag):
            raise BadUserInput(
                f"tag {tag!r} must be 1 to {MAX_TAG_LENGTH} characters, no control characters",
                field="tags",
            )
    return unique


def tag_filter(tag: str | None) -> str | None:
    return None if tag is None else tags([tag])[0]


def version_number(version: int, field: str = "version") -> int:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise BadUserInput(f"{field} must be a positive integer, got {version!r}", field=field)
    if version > MAX_STORED_INT:
        raise BadUserInput(f"{field} must be at most {MAX_STORED_INT}, got {version}", field=field)
    return version


def version_selector(value: Any, field: str = "version") -> VersionSelector:
    if value == LATEST:
        return LATEST
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return version_number(value, field)
    raise BadUserInput(
        f'{field} must be a positive integer or "latest", got {value!r}', field=field
    )


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int


def page(offset: int, limit: int) -> Page:
    if offset < 0:
        raise BadUserInput(f"offset must be >= 0, got {offset}", field="offset")
    if not 1 <= limit <= MAX_LIMIT:
        raise BadUserInput(f"limit must be between 1 and {MAX_LIMIT}, got {limit}", field="limit")
    return Page(offset, limit)


@dataclass(frozen=True)
class Fqn:
    workspace: str
    name: str
    version: VersionSelector | None

    @staticmethod
    def parse(value: str) -> "Fqn":
        match = FQN.fullmatch(value)
        if (
            not match
            or not WORKSPACE_NAME.fullmatch(match["workspace"])
            or not PROMPT_NAME.fullmatch(match["name"])
        ):
            raise BadUserInput(
                f"fqn {value!r} is malformed: expected prompt:<workspace>/<name>[:<version>]",
                field="fqn",
            )
        version = match["version"]
        return Fqn(
            match["workspace"],
            match["name"],
            None if version is None else version_selector(version, field="fqn"),
        )


def prompt_fqn(workspace: str, name: str) -> str:
    return f"prompt:{workspace}/{name}"


def json_object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadUserInput(f"{field} must be a JSON object", field=field)
    return value


def one_of(field_values: dict[str, Any], *, required: bool = True) -> str | None:
    """The name of the single argument given among `field_values`; error if several."""
    given = [name for name, value in field_values.items() if value is not None]
    names = " / ".join(field_values)
    if len(given) > 1 or (required and not given):
        raise BadUserInput(f"give exactly one of {names}")
    return given[0] if given else None
