"""Labels of prompts, with the version each points at, sorted by name."""

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select

from promptgraph.db import Database
from promptgraph.models import PromptLabel, PromptVersion
from promptgraph.services.records import LabelRecord

Key = int  # Prompt.id
Result = list[LabelRecord]


async def load(db: Database, keys: Sequence[Key]) -> list[Result]:
    async with db.read() as session:
        rows = await session.execute(
            select(
                PromptLabel.prompt_id,
                PromptLabel.name,
                PromptVersion.version,
                PromptLabel.updated_at,
            )
            .join(PromptVersion, PromptVersion.id == PromptLabel.version_id)
            .where(PromptLabel.prompt_id.in_(set(keys)))
            .order_by(PromptLabel.name)
        )
    labels: defaultdict[int, list[LabelRecord]] = defaultdict(list)
    for prompt_id, name, version, updated_at in rows:
        labels[prompt_id].append(LabelRecord(name, version, updated_at))
    return [labels[key] for key in keys]
