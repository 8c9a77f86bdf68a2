"""Tags of versions, sorted by name."""

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select

from promptgraph.db import Database
from promptgraph.models import VersionTag

Key = int  # PromptVersion.id
Result = list[str]


async def load(db: Database, keys: Sequence[Key]) -> list[Result]:
    async with db.read() as session:
        rows = await session.execute(
            select(VersionTag.version_id, VersionTag.tag)
            .where(VersionTag.version_id.in_(set(keys)))
            .order_by(VersionTag.tag)
        )
    tags: defaultdict[int, list[str]] = defaultdict(list)
    for version_id, tag in rows:
        tags[version_id].append(tag)
    return [tags[key] for key in keys]
