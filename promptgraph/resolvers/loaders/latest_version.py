"""The latest version of prompts: the highest-numbered active one, or None."""

from collections.abc import Sequence

from promptgraph.db import Database
from promptgraph.models import PromptVersion
from promptgraph.services.catalog import is_latest_version, to_records, versions_with_prompt
from promptgraph.services.records import VersionRecord

Key = int  # Prompt.id
Result = VersionRecord | None


async def load(db: Database, keys: Sequence[Key]) -> list[Result]:
    async with db.read() as session:
        rows = await session.execute(
            versions_with_prompt().where(
                PromptVersion.prompt_id.in_(set(keys)), is_latest_version()
            )
        )
    latest = {record.prompt.id: record for record in to_records(rows.all())}
    return [latest.get(key) for key in keys]
