"""The one place a prompt name, current or former (an alias), becomes a prompt.

Every surface that accepts a prompt name (lookups, lists, FQNs, comparisons, mutations,
recordUsage) resolves it here, through `prompt_alias`, which holds every name a prompt
answers to. So a renamed prompt keeps answering to its former names wherever a name is
accepted, and no caller can forget an alias. Three forms, one table:

- `prompt_named`: a condition on `Prompt.id`, for reads built as one statement;
- `resolve`: names to prompt ids in one statement, for writes and batches;
- `versions_by_name`: (name, version) pairs to version ids, for recording usage.
"""

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from promptgraph.models import Prompt, PromptAlias, PromptVersion


def prompt_id_of(workspace_id: Any, name: Any) -> Any:
    """The id of the prompt answering to `name` in the workspace, as a scalar subquery."""
    return (
        select(PromptAlias.prompt_id)
        .where(PromptAlias.workspace_id == workspace_id, PromptAlias.name == name)
        .scalar_subquery()
    )


def prompt_named(workspace_id: int, name: str) -> ColumnElement[bool]:
    """True for the prompt of the workspace answering to `name` (its name or an alias)."""
    return Prompt.id == prompt_id_of(workspace_id, name)


async def resolve(
    session: AsyncSession, workspace_id: int, names: Collection[str]
) -> dict[str, int]:
    """Prompt id of each name that answers to a prompt; names that do not are left out."""
    if not names:
        return {}
    rows = await session.execute(
        select(PromptAlias.name, PromptAlias.prompt_id).where(
            PromptAlias.workspace_id == workspace_id, PromptAlias.name.in_(set(names))
        )
    )
    return {name: prompt_id for name, prompt_id in rows}


def versions_by_name() -> Select[tuple[str, int, int]]:
    """(name the client used, version number, version id) rows: filter on `PromptAlias.name`
    and `PromptVersion.version`, and on `PromptAlias.workspace_id`."""
    return select(PromptAlias.name, PromptVersion.version, PromptVersion.id).join(
        PromptVersion, PromptVersion.prompt_id == PromptAlias.prompt_id
    )


async def aliases_of(session: AsyncSession, prompt_ids: Collection[int]) -> dict[int, list[str]]:
    """Former names of each prompt, sorted (a prompt without any is left out)."""
    rows = await session.execute(
        select(PromptAlias.prompt_id, PromptAlias.name)
        .join(Prompt, Prompt.id == PromptAlias.prompt_id)
        .where(PromptAlias.prompt_id.in_(set(prompt_ids)), PromptAlias.name != Prompt.name)
        .order_by(PromptAlias.name)
    )
    found: dict[int, list[str]] = {}
    for prompt_id, name in rows:
        found.setdefault(prompt_id, []).append(name)
    return found
