"""How many versions prompts have, archived ones included."""

from collections.abc import Sequence

from sqlalchemy import func, select

from promptgraph.db import Database
from promptgraph.models import PromptVersion

Key = int  # Prompt.id
Result = int


async def load(db: Database, keys: Sequence[Key]) -> list[Result]:
    async with db.read() as session:
        rows = await session.execute(
            select(PromptVersion.prompt_id, func.count())
            .where(PromptVersion.prompt_id.in_(set(keys)))
            .group_by(PromptVersion.prompt_id)
        )
    counts = {prompt_id: count for prompt_id, count in rows}
    return [counts.get(key, 0) for key in keys]
