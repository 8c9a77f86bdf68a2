"""Configuration: every setting is read from the environment and checked once, at start.

Each field is read from `PROMPTGRAPH_<FIELD NAME IN CAPITALS>`; its description says what it
accepts, and is what a command prints when a value is not valid (see `describe_invalid`).
"""

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, NonNegativeInt, PositiveInt, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "PROMPTGRAPH_"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./promptgraph.db"
# An origin as browsers send it: scheme, host and optional port; no path, not even "/".
_ORIGIN = re.compile(r"^https?://[^/\s?#]+$")

_CONFIG = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")


class QueryLimits(BaseSettings):
    """Checked before a GraphQL document executes; each is QUERY_TOO_COMPLEX beyond."""

    model_config = _CONFIG

    max_depth: PositiveInt = Field(10, description="a whole number of at least 1")
    max_aliases: NonNegativeInt = Field(30, description="a whole number of at least 0")
    max_tokens: PositiveInt = Field(5_000, description="a whole number of at least 1")
    max_root_fields: PositiveInt = Field(20, description="a whole number of at least 1")
    # Nodes a query may touch, counted like GitHub's node limit: each field that takes a
    # `limit` multiplies what is under it by that limit.
    max_cost: PositiveInt = Field(50_000, description="a whole number of at least 1")
    # Pairs of fields that share a response name in one selection set (fragments expanded),
    # which validation must compare with each other: its work grows with their square.
    max_merged_pairs: PositiveInt = Field(1_000, description="a whole number of at least 1")
    # Items a list counts for when it takes no `limit` and its length is not known before it
    # runs (a prompt's labels, a version's revisions and messages, a comparison's versions).
    unpaged_list_size: PositiveInt = Field(2, description="a whole number of at least 1")
    # Nodes one `render` counts for: each may produce up to 1,000,000 characters.
    render_cost: PositiveInt = Field(1_000, description="a whole number of at least 1")


class Settings(BaseSettings):
    model_config = _CONFIG

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="a sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB URL",
    )
    # A write waiting this long for a SQLite lock held by another process gives up.
    sqlite_busy_timeout_ms: NonNegativeInt = Field(
        30_000, description="a whole number of milliseconds, at least 0"
    )
    limits: QueryLimits = Field(default_factory=QueryLimits)
    introspection: bool = Field(True, description="true or false (also 1/0, yes/no, on/off)")
    max_body_bytes: PositiveInt = Field(
        1024 * 1024, description="a whole number of bytes, at least 1"
    )
    # Memory per process for whole answers to repeated registry reads (PostgreSQL only); 0
    # turns the response cache off.
    response_cache_bytes: NonNegativeInt = Field(
        64 * 1024 * 1024, description="a whole number of bytes, at least 0 (0 turns it off)"
    )
    # How long the change feed keeps changes for `after` replays.
    change_retention_days: PositiveInt = Field(30, description="a whole number of days, at least 1")
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="comma-separated origins such as https://app.example.com "
        "(scheme, host and port; no path)",
    )
    log_format: Literal["text", "json"] = Field("text", description="text or json")

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        from sqlalchemy.exc import ArgumentError

        from promptgraph.db import normalize_url

        try:
            normalize_url(value)  # ValueError for a scheme that cannot be served
        except ArgumentError as error:
            raise ValueError("not a database URL") from error
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        # Browsers send scheme and host in lower case.
        origins = tuple(o.strip().lower() for o in value.split(",") if o.strip())
        for origin in origins:
            if not _ORIGIN.match(origin):
                raise ValueError(f"{origin!r} is not an origin")
        return origins

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_case(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """The settings of the process environment, or of `environ` alone when given.

        Raises pydantic's ValidationError for a value that is not valid."""
        if environ is None:
            return cls()
        return cls.model_validate(
            {**_fields_in(cls, environ), "limits": _fields_in(QueryLimits, environ)}
        )


def env_name(field_name: str) -> str:
    return f"{ENV_PREFIX}{field_name.upper()}"


def _fields_in(model: type[BaseSettings], environ: Mapping[str, str]) -> dict[str, str]:
    return {
        name: environ[env_name(name)]
        for name in model.model_fields
        if name != "limits" and env_name(name) in environ
    }


_DESCRIPTIONS = {
    name: field.description
    for model in (Settings, QueryLimits)
    for name, field in model.model_fields.items()
    if field.description
}
_SECRET_FIELDS = frozenset({"database_url"})


def describe_invalid(error: ValidationError) -> str:
    """One line naming each variable that is not valid and what it accepts (no secrets)."""
    problems = []
    for detail in error.errors():
        name = next(
            (part for part in reversed(detail["loc"]) if part in _DESCRIPTIONS), str(detail["loc"])
        )
        shown = "" if name in _SECRET_FIELDS else f"={_shorten(detail.get('input'))}"
        accepts = _DESCRIPTIONS.get(name, detail["msg"])
        problems.append(f"{env_name(str(name))}{shown} is not valid: accepts {accepts}")
    return "; ".join(dict.fromkeys(problems))


def _shorten(value: Any, limit: int = 40) -> str:
    text = repr(value) if isinstance(value, str) else repr(str(value))
    return text if len(text) <= limit else f"{text[: limit - 4]}...'"
