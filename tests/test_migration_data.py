"""Upgrades keep data: a database filled at an earlier migration head and upgraded to the
current head still holds every row with every value, and rows that existed before a
migration hold what that migration says in the columns it adds.

To extend when a migration is chained on: declare what existing rows get in the columns it
adds (`ADDED_COLUMNS`), and what a table it creates holds after the upgrade
(`CREATED_ROWS`, e.g. rows it backfills). When `FROM_REVISION` moves on, give the rows of
the tables that exist there in `ROWS`; the test refuses a table or a column left out."""

import hashlib
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Column, MetaData, Table, inspect, select, text

from promptgraph import migrations
from promptgraph.app import create_app
from promptgraph.db import Database
from promptgraph.models import metadata
from tests.conftest import _postgres_admin, _url_of, run_blocking

FROM_REVISION = "0003"

T0 = datetime(2024, 1, 15, 10, 0, 0, 123456, tzinfo=UTC)
T1 = datetime(2024, 1, 15, 11, 30, 0, 654321, tzinfo=UTC)
T2 = datetime(2024, 1, 16, 9, 0, 0, 1, tzinfo=UTC)
KEY_SECRET = "s3cret-for-the-migration-test"
TRACE_OK = uuid.UUID("00000000-0000-4000-8000-000000000001")
TRACE_ERROR = uuid.UUID("00000000-0000-4000-8000-000000000002")
SPAN = uuid.UUID("00000000-0000-4000-8000-0000000000aa")
NO_SPAN = uuid.UUID(int=0)
OLD_MESSAGES = [
    {"role": "system", "content": "You are {{ persona }}.", "name": None},
    {"role": "user", "content": "Hi", "name": "ann"},
]
CONFIG = {"provider": "openai", "model": "gpt-4o", "parameters": {"temperature": 0.2}}

# Every row of every table at FROM_REVISION, parents first, every column given.
ROWS: dict[str, list[dict[str, Any]]] = {
    "workspace": [
        {"id": 1, "name": "acme", "created_at": T0},
        {"id": 2, "name": "globex", "created_at": T1},
    ],
    "app_user": [
        {"id": 1, "workspace_id": 1, "name": "ann", "created_at": T0},
        {"id": 2, "workspace_id": 1, "name": "bob", "created_at": T1},
        {"id": 3, "workspace_id": 2, "name": "olga", "created_at": T1},
    ],
    "api_key": [
        {
            "id": 1,
            "public_id": "migkey",
            "secret_sha256": hashlib.sha256(KEY_SECRET.encode()).hexdigest(),
            "user_id": 1,
            "workspace_id": 1,
            "role": "ADMIN",
            "created_at": T0,
            "revoked_at": None,
        },
        {
            "id": 2,
            "public_id": "revoked",
            "secret_sha256": "0" * 64,
            "user_id": 3,
            "workspace_id": 2,
            "role": "VIEWER",
            "created_at": T0,
            "revoked_at": T2,
        },
    ],
    "integration": [
        {
            "id": 1,
            "workspace_id": 1,
            "name": "openai",
            "provider": "openai",
            "models": ["gpt-4o", "gpt-4o-mini"],
            "created_at": T0,
        }
    ],
    "prompt": [
        {
            "id": 1,
            "workspace_id": 1,
            "name": "greet",
            "type": "TEXT",
            "created_at": T0,
            "updated_at": T2,
        },
        {
            "id": 2,
            "workspace_id": 2,
            "name": "chat",
            "type": "CHAT",
            "created_at": T1,
            "updated_at": T1,
        },
    ],
    "prompt_version": [
        {
            "id": 1,
            "prompt_id": 1,
            "version": 1,
            "template_text": "Hello {{ who }}",
            "messages": None,
            "variables": ["who"],
            "description": "current",
            "llm_config": CONFIG,
            "tools": [{"type": "function", "function": {"name": "lookup"}}],
            "response_format": {"type": "json_object"},
            "meta": {"owner": "ann", "nested": {"ok": True, "n": 1.5}},
            "models": ["openai:gpt-4o"],
            "is_active": True,
            "created_at": T0,
            "updated_at": T1,
            "created_by": "ann",
        },
        {
            "id": 2,
            "prompt_id": 1,
            "version": 2,
            "template_text": "Bye {{ who }}",
            "messages": None,
            "variables": ["who"],
            "description": None,
            "llm_config": None,
            "tools": None,
            "response_format": None,
            "meta": {},
            "models": [],
            "is_active": False,
            "created_at": T1,
            "updated_at": T2,
            "created_by": "bob",
        },
        {
            "id": 3,
            "prompt_id": 2,
            "version": 1,
            "template_text": None,
            "messages": OLD_MESSAGES,
            "variables": ["persona"],
            "description": "chat",
            "llm_config": None,
            "tools": {"choice": "auto"},
            "response_format": None,
            "meta": {"k": "v"},
            "models": [],
            "is_active": True,
            "created_at": T1,
            "updated_at": T1,
            "created_by": "olga",
        },
    ],
    "prompt_revision": [
        {
            "id": 1,
            "version_id": 1,
            "template_text": "Hello",
            "messages": None,
            "description": "first",
            "replaced_at": T0,
            "replaced_by": "ann",
        },
        {
            "id": 2,
            "version_id": 1,
            "template_text": "Hello there",
            "messages": None,
            "description": None,
            "replaced_at": T1,
            "replaced_by": "bob",
        },
        {
            "id": 3,
            "version_id": 3,
            "template_text": None,
            "messages": [{"role": "user", "content": "old", "name": None}],
            "description": "older chat",
            "replaced_at": T1,
            "replaced_by": "olga",
        },
    ],
    "version_tag": [
        {"version_id": 1, "tag": "stable"},
        {"version_id": 1, "tag": "support"},
        {"version_id": 2, "tag": "stable"},
    ],
    "prompt_label": [
        {"id": 1, "prompt_id": 1, "name": "production", "version_id": 1, "updated_at": T1},
        {"id": 2, "prompt_id": 1, "name": "staging", "version_id": 2, "updated_at": T2},
        {"id": 3, "prompt_id": 2, "name": "production", "version_id": 3, "updated_at": T1},
    ],
    "trace": [
        {
            "id": 1,
            "workspace_id": 1,
            "trace_id": TRACE_OK,
            "status": "SUCCESS",
            "cost_usd": 0.25,
            "latency_ms": 120.5,
            "started_at": T1,
            "updated_at": T1,
        },
        {
            "id": 2,
            "workspace_id": 1,
            "trace_id": TRACE_ERROR,
            "status": "ERROR",
            "cost_usd": None,
            "latency_ms": None,
            "started_at": None,
            "updated_at": T2,
        },
    ],
    "usage": [
        {
            "id": 1,
            "workspace_id": 1,
            "version_id": 1,
            "trace_id": TRACE_OK,
            "span_id": SPAN,
            "recorded_at": T1,
        },
        {
            "id": 2,
            "workspace_id": 1,
            "version_id": 1,
            "trace_id": TRACE_ERROR,
            "span_id": NO_SPAN,
            "recorded_at": T2,
        },
        {
            "id": 3,
            "workspace_id": 1,
            "version_id": 2,
            "trace_id": TRACE_OK,
            "span_id": NO_SPAN,
            "recorded_at": T2,
        },
    ],
}

# What a row that existed before a migration holds in a column the migration added: a
# value, or a function of the row as it was.
ADDED_COLUMNS: dict[str, dict[str, Any | Callable[[dict[str, Any]], Any]]] = {
    # 0005: a revision holds every content field; older revisions kept none of these.
    "prompt_revision": {
        "llm_config": None,
        "tools": None,
        "response_format": None,
        "meta": {},
        "models": [],
    },
}

# What a table created after FROM_REVISION holds right after the upgrade (empty if unlisted).
CREATED_ROWS: dict[str, list[dict[str, Any]]] = {}


def _expected(table: str, row: dict[str, Any]) -> dict[str, Any]:
    added = {
        column: value(row) if callable(value) else value
        for column, value in ADDED_COLUMNS.get(table, {}).items()
    }
    return {**row, **added}


def _old_shape(table: Table, columns: set[str]) -> Table:
    """The table as it was at FROM_REVISION: the model's column types, only the columns it
    had then, and no client-side defaults (which would name columns it did not have)."""
    return Table(
        table.name,
        MetaData(),
        *[
            Column(column.name, column.type, primary_key=column.primary_key)
            for column in table.columns
            if column.name in columns
        ],
    )


def _primary_key_order(table: Table) -> list[Any]:
    return list(table.primary_key.columns)


@pytest.fixture
async def empty_database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[str]:
    """A database with no tables at all, so the test decides which migrations run."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        return
    request.getfixturevalue("postgres_template")  # skips (or fails on CI) without PostgreSQL
    name = f"promptgraph_upgrade_{uuid.uuid4().hex[:12]}"
    await _postgres_admin(f'CREATE DATABASE "{name}"')
    yield _url_of(name)
    await _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _columns_by_table(db: Database) -> dict[str, set[str]]:
    def read(connection: Any) -> dict[str, set[str]]:
        inspector = inspect(connection)
        return {
            name: {column["name"] for column in inspector.get_columns(name)}
            for name in inspector.get_table_names()
            if name != "alembic_version"
        }

    async with db.write_engine.connect() as connection:
        return await connection.run_sync(read)


async def _fill(db: Database, old_columns: dict[str, set[str]]) -> None:
    async with db.write() as session:
        for name, rows in ROWS.items():
            table = _old_shape(metadata.tables[name], old_columns[name])
            await session.execute(table.insert(), rows)
        if db.dialect == "postgresql":
            # The rows carry their ids, as the app's own inserts would have had them drawn:
            # move each sequence past them, as those inserts would have.
            for name, columns in old_columns.items():
                if "id" in columns:
                    await session.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                            f"(SELECT MAX(id) FROM {name}))"
                        )
                    )


@pytest.fixture
async def upgraded(empty_database_url: str) -> AsyncIterator[Database]:
    """A database filled with ROWS at FROM_REVISION, then upgraded to the head."""
    url = empty_database_url
    run_blocking(migrations.upgrade, url, FROM_REVISION)
    old = Database(url)
    try:
        old_columns = await _columns_by_table(old)
        assert set(ROWS) == set(old_columns), "give rows for every table at FROM_REVISION"
        for name, rows in ROWS.items():
            for row in rows:
                assert set(row) == old_columns[name], f"a {name} row must give every column"
        await _fill(old, old_columns)
    finally:
        await old.dispose()
    run_blocking(migrations.upgrade, url)
    db = Database(url)
    yield db
    await db.dispose()


async def test_every_row_survives_the_upgrade_with_its_values(upgraded: Database):
    async with upgraded.read() as session:
        for name, table in metadata.tables.items():
            stored = [
                dict(row._mapping)
                for row in await session.execute(select(table).order_by(*_primary_key_order(table)))
            ]
            expected = [_expected(name, row) for row in ROWS.get(name, [])]
            expected = expected if name in ROWS else CREATED_ROWS.get(name, [])
            for row in expected:
                assert set(row) == set(table.columns.keys()), (
                    f"{name}: say in ADDED_COLUMNS what existing rows hold in "
                    f"{sorted(set(table.columns.keys()) - set(row))}"
                )
            assert stored == expected, name


async def test_the_app_serves_the_upgraded_data(upgraded: Database):
    """Through the app: the old key works, versions, labels, tags, revisions and analytics
    read back, and an overwrite after the upgrade keeps the whole content it replaces."""
    app = create_app(db=upgraded)
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer pgk_migkey_{KEY_SECRET}"}
    query = """{
      prompt(name: "greet") {
        name versionCount labels { name version }
        versions(includeArchived: true) { items {
          version templateText description modelConfig { provider model parameters } tools
          responseFormat metadata models tags labels isActive createdBy
          metrics { totalTraces successRate avgCostUsd }
          revisions { templateText description modelConfig { model } tools responseFormat
                      metadata models replacedBy replacedAt }
        } }
      }
    }"""
    overwrite = """mutation { savePromptVersion(input: {name: "greet", version: 1,
      templateText: "Hello again {{ who }}"}) {
        revisions { templateText description modelConfig { provider model parameters }
                    tools responseFormat metadata models replacedBy }
    } }"""
    async with httpx.AsyncClient(transport=transport, base_url="http://promptgraph") as http:
        response = await http.post("/graphql", json={"query": query}, headers=headers)
        body = response.json()
        assert "errors" not in body, body
        greet = body["data"]["prompt"]
        assert greet["versionCount"] == 2
        assert greet["labels"] == [
            {"name": "production", "version": 1},
            {"name": "staging", "version": 2},
        ]
        v2, v1 = greet["versions"]["items"]
        assert (v2["version"], v2["isActive"], v2["tags"], v2["labels"]) == (
            2,
            False,
            ["stable"],
            ["staging"],
        )
        assert v2["metrics"]["totalTraces"] == 1
        assert v1["templateText"] == "Hello {{ who }}"
        assert v1["modelConfig"] == CONFIG
        assert v1["metadata"] == {"owner": "ann", "nested": {"ok": True, "n": 1.5}}
        assert (v1["models"], v1["tags"], v1["createdBy"]) == (
            ["openai:gpt-4o"],
            ["stable", "support"],
            "ann",
        )
        assert v1["metrics"] == {"totalTraces": 2, "successRate": 0.5, "avgCostUsd": 0.25}
        assert v1["revisions"] == [
            {
                "templateText": "Hello there",
                "description": None,
                "modelConfig": None,
                "tools": None,
                "responseFormat": None,
                "metadata": {},
                "models": [],
                "replacedBy": "bob",
                "replacedAt": "2024-01-15T11:30:00.654321Z",
            },
            {
                "templateText": "Hello",
                "description": "first",
                "modelConfig": None,
                "tools": None,
                "responseFormat": None,
                "metadata": {},
                "models": [],
                "replacedBy": "ann",
                "replacedAt": "2024-01-15T10:00:00.123456Z",
            },
        ]

        response = await http.post("/graphql", json={"query": overwrite}, headers=headers)
        body = response.json()
        assert "errors" not in body, body
        newest, *older = body["data"]["savePromptVersion"]["revisions"]
        assert newest == {
            "templateText": "Hello {{ who }}",
            "description": "current",
            "modelConfig": CONFIG,
            "tools": [{"type": "function", "function": {"name": "lookup"}}],
            "responseFormat": {"type": "json_object"},
            "metadata": {"owner": "ann", "nested": {"ok": True, "n": 1.5}},
            "models": ["openai:gpt-4o"],
            "replacedBy": "ann",
        }
        assert [r["templateText"] for r in older] == ["Hello there", "Hello"]
