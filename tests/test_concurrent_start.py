"""Several `promptgraph serve` processes starting at once on one fresh database apply the
migrations once (contract section 7), on PostgreSQL and on SQLite."""

import asyncio
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from promptgraph import migrations
from promptgraph.db import Database

from .conftest import _asyncpg_dsn, _postgres_admin, _url_of

REPO = Path(__file__).resolve().parent.parent
PROCESSES = 4
PORTS = range(18350, 18400)


def free_ports(count: int) -> list[int]:
    found = []
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(port)
        if len(found) == count:
            return found
    pytest.skip("not enough free ports in this test's range")


@pytest.fixture
async def empty_database_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A database with no tables at all, not even alembic_version."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    name = f"promptgraph_fresh_{uuid.uuid4().hex[:12]}"
    try:
        await _postgres_admin(f'CREATE DATABASE "{name}"')
    except OSError as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL unreachable: {error}")
    yield _url_of(name)
    await _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def read(log: Path) -> str:
    return log.read_text()


async def wait_healthy(process: asyncio.subprocess.Process, port: int, log: Path) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
        for _ in range(300):
            assert process.returncode is None, read(log)
            try:
                if (await http.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    pytest.fail(f"serve on port {port} did not become healthy: {read(log)}")


class PostgresStartGate:
    """Makes the processes' migrations overlap for sure, however their start-up times differ:
    an uncommitted CREATE TABLE alembic_version holds the first of them to reach its own,
    and the others behind it (or behind the advisory lock), until all are waiting; then the
    gate rolls back and lets them race."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.connection: asyncpg.Connection | None = None

    async def close(self) -> None:
        self.connection = await asyncpg.connect(_asyncpg_dsn(self.url))
        await self.connection.execute(
            "BEGIN; CREATE TABLE alembic_version (version_num varchar(32) NOT NULL)"
        )

    async def open_when_waiting(self, count: int, processes: list) -> None:
        assert self.connection is not None
        watcher = await asyncpg.connect(_asyncpg_dsn(self.url))
        try:
            for _ in range(600):
                waiting = await watcher.fetchval(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                if waiting >= count or any(p.returncode is not None for p in processes):
                    break
                await asyncio.sleep(0.1)
        finally:
            await watcher.close()
        await self.connection.execute("ROLLBACK")
        await self.connection.close()


async def test_servers_starting_at_once_apply_the_migrations_once(
    empty_database_url, backend, tmp_path
):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMPTGRAPH_")}
    env |= {"PYTHONPATH": str(REPO), "PROMPTGRAPH_DATABASE_URL": empty_database_url}
    ports = free_ports(PROCESSES)
    logs = [tmp_path / f"serve-{port}.log" for port in ports]
    gate = PostgresStartGate(empty_database_url) if backend == "postgres" else None
    if gate is not None:
        await gate.close()
    processes = []
    for port, log in zip(ports, logs, strict=True):
        with log.open("wb") as output:
            processes.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "promptgraph.cli",
                    "serve",
                    "--port",
                    str(port),
                    env=env,
                    stdout=output,
                    stderr=asyncio.subprocess.STDOUT,
                )
            )
    try:
        if gate is not None:
            await gate.open_when_waiting(PROCESSES, processes)
        await asyncio.gather(
            *(
                wait_healthy(p, port, log)
                for p, port, log in zip(processes, ports, logs, strict=True)
            )
        )
    finally:
        for process in processes:
            if process.returncode is None:
                process.terminate()
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), timeout=15)
            except TimeoutError:
                process.kill()
                await process.wait()
    for log in logs:
        output = log.read_text()
        for sign in ("Traceback", "ERROR", "Error", "already exists"):
            assert sign not in output, output

    config = migrations.alembic_config(empty_database_url)
    head = ScriptDirectory.from_config(config).get_current_head()
    db = Database(empty_database_url)
    try:
        async with db.read() as session:
            rows = (await session.execute(text("SELECT version_num FROM alembic_version"))).all()
    finally:
        await db.dispose()
    assert rows == [(head,)]
