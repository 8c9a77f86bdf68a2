"""Fixtures: every behavioural test runs once on SQLite and once on PostgreSQL, each on a
fresh database cloned from a migrated template, through the real ASGI app over HTTP."""

import asyncio
import os
import shutil
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url

from promptgraph import migrations
from promptgraph.app import create_app
from promptgraph.db import Database
from promptgraph.services import auth
from promptgraph.services.auth import Role

POSTGRES_URL = os.environ.get(
    "PROMPTGRAPH_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", "postgres"]


def _asyncpg_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


async def _postgres_admin(statement: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(POSTGRES_URL), timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def run_blocking(function: Any, *args: Any) -> Any:
    """Run set-up that drives its own event loop, even when a test's loop is running."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = function(*args)
        except BaseException as error:  # re-raised in the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def _admin(statement: str) -> None:
    asyncio.run(_postgres_admin(statement))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    run_blocking(migrations.upgrade, f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated database that each test's database is cloned from."""
    try:
        run_blocking(_admin, "SELECT 1")
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        message = f"PostgreSQL unreachable at {POSTGRES_URL}: {error}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    name = f"promptgraph_template_{os.getpid()}"
    run_blocking(_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    run_blocking(_admin, f'CREATE DATABASE "{name}"')
    run_blocking(migrations.upgrade, _url_of(name))
    yield name
    run_blocking(_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _url_of(database: str) -> str:
    url = make_url(POSTGRES_URL).set(drivername="postgresql+asyncpg", database=database)
    return url.render_as_string(hide_password=False)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[str]:
    if backend == "sqlite":
        path = tmp_path / "promptgraph.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template = request.getfixturevalue("postgres_template")
    name = f"promptgraph_test_{uuid.uuid4().hex[:12]}"
    await _postgres_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield _url_of(name)
    await _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


@dataclass
class Result:
    status: int
    body: dict[str, Any]

    @property
    def data(self) -> Any:
        return self.body.get("data")

    @property
    def errors(self) -> list[dict[str, Any]]:
        return self.body.get("errors") or []

    @property
    def codes(self) -> list[str]:
        return [error.get("extensions", {}).get("code") for error in self.errors]

    def ok(self) -> Any:
        assert self.status == 200 and not self.errors, self.body
        return self.data


@dataclass
class Api:
    """A client of the running app, with keys minted straight through the service layer."""

    http: httpx.AsyncClient
    db: Database
    default_key: str | None = None
    _keys: dict[tuple[str, str, Role], str] = field(default_factory=dict)

    async def key(self, workspace: str = "acme", user: str = "ann", role: Role = Role.ADMIN) -> str:
        if (workspace, user, role) not in self._keys:
            _, self._keys[(workspace, user, role)] = await auth.create_key(
                self.db, workspace, user, role
            )
        return self._keys[(workspace, user, role)]

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None = None
    ) -> Result:
        token = key or self.default_key or await self.key()
        response = await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {token}"},
        )
        return Result(response.status_code, response.json())

    async def create(self, name: str, text: str = "Hello {{ who }}", **fields: Any) -> Any:
        """createPromptVersion, asserting success; returns the version's fields."""
        result = await self.gql(
            """mutation($input: CreatePromptVersionInput!) {
                 createPromptVersion(input: $input) { id name version fqn tags isActive }
               }""",
            {"input": {"name": name, "templateText": text, **fields}},
        )
        return result.ok()["createPromptVersion"]

    async def save(self, name: str, text: str, **fields: Any) -> Any:
        result = await self.gql(
            """mutation($input: SavePromptVersionInput!) {
                 savePromptVersion(input: $input) { id version templateText description }
               }""",
            {"input": {"name": name, "templateText": text, **fields}},
        )
        return result.ok()["savePromptVersion"]


@pytest.fixture
async def api(db: Database) -> AsyncIterator[Api]:
    app = create_app(db=db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://promptgraph") as http:
        yield Api(http, db)


class StatementCounter:
    """Counts the SQL statements the app sends, leaving out transaction control."""

    def __init__(self, db: Database) -> None:
        self.statements: list[str] = []
        for engine in db.engines:
            event.listen(engine.sync_engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.split(None, 1)[0].upper() not in {"BEGIN", "COMMIT", "ROLLBACK"}:
            self.statements.append(statement)

    def reset(self) -> None:
        self.statements.clear()

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def statements(db: Database) -> StatementCounter:
    return StatementCounter(db)
