"""Alembic migrations, applied by `promptgraph serve` and `promptgraph db upgrade`.

Several processes may start at once on one database; each applies what is pending under a
lock, so the first applies the migrations and the others find nothing left to do. On
PostgreSQL the lock is an advisory lock taken in the migrations' transaction (`env.py`); on
SQLite it is an exclusive lock on a file next to the database.
"""

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL

from promptgraph.db import normalize_url

MIGRATIONS_DIR = Path(__file__).parent


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    url = normalize_url(database_url).render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@contextmanager
def _sqlite_file_lock(url: URL) -> Iterator[None]:
    """flock, not a SQLite transaction: Alembic's SQLite DDL runs outside one, and the lock
    must cover its reading of the current revision as well as its writes."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrations.lock", "a+b") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply pending migrations. Blocking: call it outside the event loop."""
    with _sqlite_file_lock(normalize_url(database_url)):
        command.upgrade(alembic_config(database_url), revision)
