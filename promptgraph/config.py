"""Configuration, read from the environment once per process."""

import os
from dataclasses import dataclass, field, fields

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./promptgraph.db"


@dataclass(frozen=True)
class QueryLimits:
    """Checked before a GraphQL document executes; each is QUERY_TOO_COMPLEX beyond."""

    max_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 5_000
    max_root_fields: int = 20
    # Nodes a query may touch, counted like GitHub's node limit: each field that takes a
    # `limit` multiplies what is under it by that limit.
    max_cost: int = 50_000
    # Pairs of fields that share a response name in one selection set (fragments expanded),
    # which validation must compare with each other: its work grows with their square.
    max_merged_pairs: int = 1_000
    # Items a list counts for when it takes no `limit` and its length is not known before it
    # runs (a prompt's labels, a version's revisions and messages, a comparison's versions).
    unpaged_list_size: int = 2
    # Nodes one `render` counts for: each may produce up to 1,000,000 characters.
    render_cost: int = 1_000


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    # A write waiting this long for a SQLite lock held by another process gives up.
    sqlite_busy_timeout_ms: int = 30_000
    limits: QueryLimits = field(default_factory=QueryLimits)
    introspection: bool = True
    max_body_bytes: int = 1024 * 1024
    # Memory per process for whole answers to repeated registry reads (PostgreSQL only); 0
    # turns the response cache off.
    response_cache_bytes: int = 64 * 1024 * 1024

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        limits = QueryLimits(
            **{
                f.name: int(env[f"PROMPTGRAPH_{f.name.upper()}"])
                for f in fields(QueryLimits)
                if f"PROMPTGRAPH_{f.name.upper()}" in env
            }
        )
        return cls(
            database_url=env.get("PROMPTGRAPH_DATABASE_URL", DEFAULT_DATABASE_URL),
            limits=limits,
            introspection=env.get("PROMPTGRAPH_INTROSPECTION", "true").lower()
            not in {"0", "false", "no", "off"},
            max_body_bytes=int(env.get("PROMPTGRAPH_MAX_BODY_BYTES", 1024 * 1024)),
            response_cache_bytes=int(env.get("PROMPTGRAPH_RESPONSE_CACHE_BYTES", 64 * 1024 * 1024)),
        )
