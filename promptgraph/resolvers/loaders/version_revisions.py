"""Overwritten contents of versions, newest first."""

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select

from promptgraph.db import Database
from promptgraph.models import PromptRevision

Key = int  # PromptVersion.id
Result = list[PromptRevision]


async def load(db: Database, keys: Sequence[Key]) -> list[Result]:
    async with db.read() as session:
        rows = await session.execute(
            select(PromptRevision)
            .where(PromptRevision.version_id.in_(set(keys)))
            .order_by(PromptRevision.replaced_at.desc(), PromptRevision.id.desc())
        )
    revisions: defaultdict[int, list[PromptRevision]] = defaultdict(list)
    for (revision,) in rows:
        revisions[revision.version_id].append(revision)
    return [revisions[key] for key in keys]
