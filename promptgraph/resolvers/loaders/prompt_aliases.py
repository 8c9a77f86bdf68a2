"""Former names of prompts that still resolve to them (aliases), sorted."""

from collections.abc import Sequence

from promptgraph.db import Database
from promptgraph.services import names

Key = int  # Prompt.id
Result = list[str]


async def load(db: Database, keys: Sequence[Key]) -> list[Result]:
    async with db.read() as session:
        aliases = await names.aliases_of(session, keys)
    return [aliases.get(key, []) for key in keys]
