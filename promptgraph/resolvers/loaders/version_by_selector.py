"""One version of a prompt, by number or by label (`Prompt.version`)."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import tuple_

from promptgraph.db import Database
from promptgraph.models import PromptLabel, PromptVersion
from promptgraph.services.catalog import to_records, versions_with_prompt
from promptgraph.services.records import VersionRecord


@dataclass(frozen=True)
class Key:
    """Exactly one of version and label is set."""

    prompt_id: int
    version: int | None = None
    label: str | None = None


Result = VersionRecord | None


async def load(db: Database, keys: Sequence[Key]) -> list[Result]:
    by_number = {(key.prompt_id, key.version) for key in keys if key.version is not None}
    by_label = {(key.prompt_id, key.label) for key in keys if key.label is not None}
    found: dict[Key, VersionRecord] = {}
    async with db.read() as session:
        if by_number:
            rows = await session.execute(
                versions_with_prompt().where(
                    tuple_(PromptVersion.prompt_id, PromptVersion.version).in_(by_number)
                )
            )
            for record in to_records(rows.all()):
                found[Key(record.prompt.id, version=record.version.version)] = record
        if by_label:
            rows = await session.execute(
                versions_with_prompt()
                .add_columns(PromptLabel.name)
                .join(PromptLabel, PromptLabel.version_id == PromptVersion.id)
                .where(tuple_(PromptLabel.prompt_id, PromptLabel.name).in_(by_label))
            )
            for version, prompt, label in rows:
                found[Key(prompt.id, label=label)] = VersionRecord(version, prompt)
    return [found.get(key) for key in keys]
