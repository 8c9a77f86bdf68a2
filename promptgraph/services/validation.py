"""Checks on client input. Each failure is a BAD_USER_INPUT naming what was wrong."""

import math
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
MAX_NAME_LENGTH = 128
# The longest FQN: "prompt:" + workspace (64) + "/" + name (128) + ":" + a version (10 digits).
MAX_FQN_LENGTH = 256
MAX_JSON_DEPTH = 32
# Longer than any shown value needs to be to recognise it; an error never echoes a megabyte.
SHOWN_LENGTH = 80

# Characters that no name or tag may hold: controls (Cc), format characters (Cf: the
# bidirectional override U+202E, the zero-width space U+200B...), line and paragraph
# separators (Zl, Zp) and lone surrogates (Cs). They make two different names look alike, or
# a name look like something else, in every list and log that shows it.
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})

VersionSelector = int | Literal["latest"]


def shown(value: object) -> str:
    """`value` for an error message, cut short when long."""
    text = repr(value)
    return text if len(text) <= SHOWN_LENGTH else f"{text[: SHOWN_LENGTH - 5]}...{text[-1]}"


def _has_invisible_characters(value: str) -> bool:
    return any(unicodedata.category(ch) in INVISIBLE_CATEGORIES for ch in value)


def free_name(
    value: str,
    noun: str,
    max_length: int = MAX_NAME_LENGTH,
    *,
    field: str | None = None,
    blank_ok: bool = False,
) -> str:
    """A free string that names or tags something (a tag, a user, a provider, a model, a
    message role): 1 to `max_length` characters, not only spaces (tags excepted: the
    contract allows any 1 to 64 characters), and no control, format or separator
    characters."""
    blank = not value.strip() and not (blank_ok and value)
    if blank or len(value) > max_length or _has_invisible_characters(value):
        raise BadUserInput(
            f"{noun} {shown(value)} must be 1 to {max_length} characters"
            f"{'' if blank_ok else ', not blank'}, with no control, format or line-separator "
            "characters",
            field=field or noun,
        )
    return value


def invalid_json(value: Any) -> str | None:
    """Why `value` cannot be stored as JSON and read back by every client, or None when it
    can. Without recursion: the value may be hostile."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= MAX_JSON_DEPTH:
                return f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
            if isinstance(item, dict):
                if not all(isinstance(key, str) for key in item):
                    return "JSON object keys must be strings"
                item = item.values()
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, float):
            if not math.isfinite(item):
                return "JSON numbers must be finite: Infinity, NaN and overflows have no JSON form"
        elif isinstance(item, int) and not isinstance(item, bool):
            if not -(2**63) <= item < 2**63:
                return "JSON integers must fit in 64 bits"
        elif not (item is None or isinstance(item, str | bool)):
            return f"a {type(item).__name__} is not a JSON value"
    return None


def json_value(value: Any, field: str) -> Any:
    """Every JSON value a client gives, checked where it enters the service (after GraphQL
    has substituted variables): no stored value can make a later read fail."""
    problem = invalid_json(value)
    if problem is not None:
        raise BadUserInput(f"{field}: {problem}", field=field)
    return value


def prompt_name(name: str, field: str = "name") -> str:
    if not PROMPT_NAME.fullmatch(name):
        raise BadUserInput(
            f"{field} {shown(name)} is not a valid prompt name: 1 to 128 characters of letters, "
            "digits, '.', '_' or '-', starting with a letter or digit",
            field=field,
        )
    return name


def workspace_name(name: str) -> str:
    if not WORKSPACE_NAME.fullmatch(name):
        raise BadUserInput(
            f"workspace {shown(name)} is not a valid name: 1 to 64 characters of letters, digits, "
            "'.', '_' or '-', starting with a letter or digit"
        )
    return name


def user_name(name: str) -> str:
    return free_name(name, "user", MAX_USER_NAME_LENGTH)


def label_name(name: str) -> str:
    if name in RESERVED_LABELS:
        raise BadUserInput(f"label {shown(name)} is reserved", field="label")
    if not LABEL_NAME.fullmatch(name):
        raise BadUserInput(
            f"label {shown(name)} is not valid: 1 to 63 characters of lowercase letters, digits, "
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
        free_name(tag, "tag", MAX_TAG_LENGTH, field="tags", blank_ok=True)
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
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return version_number(value, field)
    raise BadUserInput(
        f'{field} must be a positive integer or "latest", got {shown(value)}', field=field
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
        match = FQN.fullmatch(value) if len(value) <= MAX_FQN_LENGTH else None
        if (
            not match
            or not WORKSPACE_NAME.fullmatch(match["workspace"])
            or not PROMPT_NAME.fullmatch(match["name"])
        ):
            raise BadUserInput(
                f"fqn {shown(value)} is malformed: expected prompt:<workspace>/<name>[:<version>]",
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
    return json_value(value, field)


def search_text(search: str) -> str:
    """A search matches a substring of a name, so one longer than any name can only be a
    mistake: it is refused rather than answered with an empty page."""
    if len(search) > MAX_NAME_LENGTH:
        raise BadUserInput(
            f"search is {len(search)} characters, longer than any prompt name "
            f"({MAX_NAME_LENGTH}), so it can match nothing",
            field="search",
        )
    return search


def one_of(field_values: dict[str, Any], *, required: bool = True) -> str | None:
    """The name of the single argument given among `field_values`; error if several."""
    given = [name for name, value in field_values.items() if value is not None]
    names = " / ".join(field_values)
    if len(given) > 1 or (required and not given):
        raise BadUserInput(f"give exactly one of {names}")
    return given[0] if given else None


NUL = "\x00"


def has_nul(value: Any) -> bool:
    """Whether a string anywhere in a JSON-like value holds NUL, which neither database
    stores in text; every surface refuses it before it reaches a service."""
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
