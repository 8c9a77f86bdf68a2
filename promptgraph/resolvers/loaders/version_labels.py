"""Names of the labels pointing at versions, sorted."""

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select

from promptgraph.db import Database
from promptgraph.models import PromptLabel

Key = int  # PromptVersion.id
Result = list[str]


async def load(db: Database, keys: Sequence[Key]) -> list[Result]:
    async with db.read() as session:
        rows = await session.execute(
            select(PromptLabel.version_id, PromptLabel.name)
            .where(PromptLabel.version_id.in_(set(keys)))
            .order_by(PromptLabel.name)
        )
    labels: defaultdict[int, list[str]] = defaultdict(list)
    for version_id, name in rows:
        labels[version_id].append(name)
    return [labels[key] for key in keys]
