"""Alembic environment: runs migrations over the async engine of the configured database."""

import asyncio

from alembic import context
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from promptgraph.db import normalize_url
from promptgraph.models import metadata

config = context.config
# Any constant will do, as long as nothing else takes it: "promptgr" in ASCII.
MIGRATIONS_LOCK_KEY = 0x70726F6D70746772


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Held to the end of this transaction; Alembic reads the current revision after.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATIONS_LOCK_KEY}
            )
        context.run_migrations()


async def _run_online() -> None:
    engine = create_async_engine(
        normalize_url(config.get_main_option("sqlalchemy.url")), poolclass=NullPool
    )
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


asyncio.run(_run_online())
