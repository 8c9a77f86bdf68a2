"""Engines and transactions for the two supported stores: SQLite (embedded) and PostgreSQL.

SQLite allows one writer at a time. Writes therefore go through a dedicated one-connection
engine that opens its transactions with BEGIN IMMEDIATE: writers in this process queue on
the pool instead of failing with "database is locked", and writers in other processes
(the CLI, a second worker) wait on the busy timeout. Reads use a separate pool and, thanks
to WAL, never wait for a writer. PostgreSQL uses one pool for both.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Table, event, exc, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from promptgraph.changes import ChangeFeed

ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
# A database that is down refuses connections at once, so requests fail fast then; the
# connect timeout only bounds a database that does not answer at all, and is generous
# because a loaded machine can take seconds to start a backend. A pool merely busy under
# load makes requests queue, for longer.
CONNECT_TIMEOUT_S = 10
POOL_TIMEOUT_S = 30


def is_unavailable(error: BaseException) -> bool:
    """Whether an error means the database cannot be reached (down, restarting, refusing)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, exc.TimeoutError | OSError):  # pool wait, refused, reset
            return True
        name = type(current).__name__
        if name in {
            "CannotConnectNowError",
            "ConnectionDoesNotExistError",
            "ConnectionFailureError",
            "AdminShutdownError",
            "InterfaceError",
            "TooManyConnectionsError",
        }:
            return True
        current = current.__cause__ or current.__context__
    return False


def normalize_url(url: str | URL) -> URL:
    """Accept plain `sqlite://` / `postgresql://` URLs and pick the async driver for them."""
    parsed = make_url(url)
    if parsed.drivername in ASYNC_DRIVERS:
        parsed = parsed.set(drivername=ASYNC_DRIVERS[parsed.drivername])
    if parsed.drivername not in ASYNC_DRIVERS.values():
        raise ValueError(
            f"unsupported database URL scheme {parsed.drivername!r}: "
            "use sqlite+aiosqlite:// or postgresql+asyncpg://"
        )
    return parsed


def _configure_sqlite(engine: AsyncEngine, *, begin: str, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's implicit BEGIN is DEFERRED).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)


def insert_for(dialect: str) -> Any:
    """The INSERT construct supporting ON CONFLICT of a dialect."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


class Database:
    def __init__(self, url: str | URL, *, sqlite_busy_timeout_ms: int = 30_000) -> None:
        self.url = normalize_url(url)
        self.dialect = self.url.get_backend_name()
        if self.dialect == "sqlite":
            self.write_engine = create_async_engine(
                self.url, pool_size=1, max_overflow=0, pool_timeout=120
            )
            self.read_engine = create_async_engine(self.url, pool_size=5, max_overflow=10)
            _configure_sqlite(
                self.write_engine, begin="BEGIN IMMEDIATE", busy_timeout_ms=sqlite_busy_timeout_ms
            )
            _configure_sqlite(
                self.read_engine, begin="BEGIN", busy_timeout_ms=sqlite_busy_timeout_ms
            )
            self.changes: ChangeFeed | None = None
        else:
            # No pre-ping: it would cost a round trip per checkout. A connection found dead
            # in use fails that request as unavailable and the pool drops its connections.
            self.write_engine = create_async_engine(
                self.url,
                pool_size=10,
                max_overflow=20,
                pool_timeout=POOL_TIMEOUT_S,
                connect_args={"timeout": CONNECT_TIMEOUT_S},
            )
            # Reads run each statement on its own (autocommit), which READ COMMITTED would
            # give them anyway, without the two round trips of BEGIN and ROLLBACK.
            self.read_engine = self.write_engine.execution_options(isolation_level="AUTOCOMMIT")
            self.changes = ChangeFeed(self.url)
        self._readers = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self._writers = async_sessionmaker(self.write_engine, expire_on_commit=False)

    @property
    def engines(self) -> list[AsyncEngine]:
        """One per pool (PostgreSQL's read engine shares the write engine's pool)."""
        by_pool: dict[int, AsyncEngine] = {}
        for engine in (self.write_engine, self.read_engine):
            # The first of each pool: an engine's events also fire for engines derived from it.
            by_pool.setdefault(id(engine.sync_engine.pool), engine)
        return list(by_pool.values())

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._readers() as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        async with self._writers() as session, session.begin():
            yield session

    def insert(self, table: Table | type) -> Any:
        """An INSERT supporting ON CONFLICT for this database's dialect."""
        return insert_for(self.dialect)(table)

    async def ping(self) -> bool:
        try:
            async with self.read_engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def dispose(self) -> None:
        if self.changes is not None:
            await self.changes.close()
        for engine in self.engines:
            await engine.dispose()
