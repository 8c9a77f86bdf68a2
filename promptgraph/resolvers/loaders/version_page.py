"""A page of a prompt's versions, newest first (`Prompt.versions`)."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from promptgraph.db import Database
from promptgraph.models import PromptVersion
from promptgraph.services.catalog import has_tag, to_records, versions_with_prompt
from promptgraph.services.records import PageResult, VersionRecord


@dataclass(frozen=True)
class Key:
    prompt_id: int
    tag: str | None
    include_archived: bool
    offset: int
    limit: int


Result = PageResult[VersionRecord]


async def _pages_sharing_arguments(db: Database, keys: list[Key]) -> dict[int, Result]:
    """Pages for keys that differ only in prompt_id: two statements whatever their number."""
    first = keys[0]
    conditions = [PromptVersion.prompt_id.in_({key.prompt_id for key in keys})]
    if not first.include_archived:
        conditions.append(PromptVersion.is_active)
    if first.tag is not None:
        conditions.append(has_tag(first.tag))
    position = (
        func.row_number()
        .over(partition_by=PromptVersion.prompt_id, order_by=PromptVersion.version.desc())
        .label("position")
    )
    numbered = select(PromptVersion.id, position).where(*conditions).subquery()
    async with db.read() as session:
        counts = await session.execute(
            select(PromptVersion.prompt_id, func.count())
            .where(*conditions)
            .group_by(PromptVersion.prompt_id)
        )
        totals = {prompt_id: count for prompt_id, count in counts}
        rows = await session.execute(
            versions_with_prompt()
            .join(numbered, numbered.c.id == PromptVersion.id)
            .where(
                numbered.c.position > first.offset,
                numbered.c.position <= first.offset + first.limit,
            )
            .order_by(PromptVersion.prompt_id, PromptVersion.version.desc())
        )
    items: defaultdict[int, list[VersionRecord]] = defaultdict(list)
    for record in to_records(rows.all()):
        items[record.prompt.id].append(record)
    return {
        key.prompt_id: PageResult(
            items[key.prompt_id], totals.get(key.prompt_id, 0), key.offset, key.limit
        )
        for key in keys
    }


async def load(db: Database, keys: Sequence[Key]) -> list[Result]:
    groups: defaultdict[tuple[str | None, bool, int, int], list[Key]] = defaultdict(list)
    for key in keys:
        groups[(key.tag, key.include_archived, key.offset, key.limit)].append(key)
    pages: dict[Key, Result] = {}
    for group in groups.values():
        by_prompt = await _pages_sharing_arguments(db, group)
        pages.update({key: by_prompt[key.prompt_id] for key in group})
    return [pages[key] for key in keys]
