"""Configuration, read from the environment once per process."""

import os
from dataclasses import dataclass

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./promptgraph.db"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    # A write waiting this long for a SQLite lock held by another process gives up.
    sqlite_busy_timeout_ms: int = 30_000

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(database_url=os.environ.get("PROMPTGRAPH_DATABASE_URL", DEFAULT_DATABASE_URL))
