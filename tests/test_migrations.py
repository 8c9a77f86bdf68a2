"""The migrated schema is the one the models describe, with the contract's uniqueness rules."""

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import insert, text
from sqlalchemy.exc import IntegrityError

from promptgraph import migrations
from promptgraph.models import metadata

NOW = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)


async def test_migrated_schema_matches_the_models(db):
    def diff(connection):
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, metadata)

    async with db.write_engine.connect() as connection:
        differences = await connection.run_sync(diff)
    assert differences == []


async def test_database_is_at_the_head_revision(db):
    head = ScriptDirectory.from_config(migrations.alembic_config(str(db.url))).get_current_head()
    async with db.read() as session:
        current = (await session.execute(text("SELECT version_num FROM alembic_version"))).all()
    assert current == [(head,)]


def table(name):
    return metadata.tables[name]


async def _seed(db):
    """A workspace with one prompt, one version and one label; returns their ids."""
    async with db.write() as session:
        workspace_id = (
            await session.execute(
                insert(table("workspace"))
                .values(name="acme", created_at=NOW)
                .returning(table("workspace").c.id)
            )
        ).scalar_one()
        prompt_id = (
            await session.execute(
                insert(table("prompt"))
                .values(
                    workspace_id=workspace_id,
                    name="greet",
                    type="TEXT",
                    created_at=NOW,
                    updated_at=NOW,
                )
                .returning(table("prompt").c.id)
            )
        ).scalar_one()
        version_id = (
            await session.execute(
                insert(table("prompt_version"))
                .values(**_version(prompt_id, 1))
                .returning(table("prompt_version").c.id)
            )
        ).scalar_one()
        await session.execute(
            insert(table("prompt_label")).values(
                prompt_id=prompt_id, name="production", version_id=version_id, updated_at=NOW
            )
        )
    return {"workspace_id": workspace_id, "prompt_id": prompt_id, "version_id": version_id}


def _version(prompt_id, version):
    return {
        "prompt_id": prompt_id,
        "version": version,
        "template_text": "hi",
        "variables": [],
        "meta": {},
        "models": [],
        "is_active": True,
        "created_at": NOW,
        "updated_at": NOW,
        "created_by": "ann",
    }


DUPLICATES = {
    # A prompt name is unique in its workspace.
    "prompt-name-per-workspace": lambda ids: insert(table("prompt")).values(
        workspace_id=ids["workspace_id"], name="greet", type="TEXT", created_at=NOW, updated_at=NOW
    ),
    # A version number is unique per prompt.
    "version-per-prompt": lambda ids: insert(table("prompt_version")).values(
        **_version(ids["prompt_id"], 1)
    ),
    # A label is unique per prompt.
    "label-per-prompt": lambda ids: insert(table("prompt_label")).values(
        prompt_id=ids["prompt_id"], name="production", version_id=ids["version_id"], updated_at=NOW
    ),
    # A workspace name is unique (keys name workspaces by name).
    "workspace-name": lambda ids: insert(table("workspace")).values(name="acme", created_at=NOW),
}


@pytest.mark.parametrize("statement", list(DUPLICATES.values()), ids=list(DUPLICATES))
async def test_uniqueness_is_enforced_by_the_database(db, statement):
    ids = await _seed(db)
    with pytest.raises(IntegrityError):
        async with db.write() as session:
            await session.execute(statement(ids))


async def test_the_same_names_are_allowed_elsewhere(db):
    """The constraints are scoped: other workspaces and prompts may reuse names and numbers."""
    ids = await _seed(db)
    async with db.write() as session:
        other = (
            await session.execute(
                insert(table("workspace"))
                .values(name="globex", created_at=NOW)
                .returning(table("workspace").c.id)
            )
        ).scalar_one()
        prompt_id = (
            await session.execute(
                insert(table("prompt"))
                .values(
                    workspace_id=other, name="greet", type="TEXT", created_at=NOW, updated_at=NOW
                )
                .returning(table("prompt").c.id)
            )
        ).scalar_one()
        version_id = (
            await session.execute(
                insert(table("prompt_version"))
                .values(**_version(prompt_id, 1))
                .returning(table("prompt_version").c.id)
            )
        ).scalar_one()
        await session.execute(
            insert(table("prompt_label")).values(
                prompt_id=prompt_id, name="production", version_id=version_id, updated_at=NOW
            )
        )
        await session.execute(
            insert(table("prompt_version")).values(**_version(ids["prompt_id"], 2))
        )
    async with db.read() as session:
        count = (await session.execute(text("SELECT COUNT(*) FROM prompt_version"))).scalar_one()
    assert count == 3
