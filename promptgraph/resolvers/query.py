"""Root queries: thin wrappers over the catalog service."""

from datetime import datetime

import strawberry

from promptgraph.resolvers.lifecycle import LifecycleQuery
from promptgraph.schema.scalars import VersionSelector
from promptgraph.schema.types import (
    Info,
    Prompt,
    PromptComparison,
    PromptPage,
    PromptVersion,
    PromptVersionPage,
    Viewer,
)
from promptgraph.services import catalog, comparison, validation
from promptgraph.services.metrics import Window


@strawberry.type
class Query(LifecycleQuery):
    @strawberry.field
    def viewer(self, info: Info) -> Viewer:
        principal = info.context.principal
        return Viewer(user=principal.user, workspace=principal.workspace, role=principal.role)

    @strawberry.field(description="Ordered by name.")
    async def prompts(
        self,
        info: Info,
        search: str | None = None,
        tag: str | None = None,
        offset: int = 0,
        limit: int = 20,
    ) -> PromptPage:
        result = await catalog.list_prompts(
            info.context.db,
            info.context.principal,
            search=search,
            tag=tag,
            page=validation.page(offset, limit),
        )
        return PromptPage.of([Prompt.from_row(row) for row in result.items], result)

    @strawberry.field(description="Exactly one of name and fqn; null when nothing matches.")
    async def prompt(
        self, info: Info, name: str | None = None, fqn: str | None = None
    ) -> Prompt | None:
        row = await catalog.find_prompt(info.context.db, info.context.principal, name=name, fqn=fqn)
        return None if row is None else Prompt.from_row(row)

    @strawberry.field(description="Ordered by name, then version newest first.")
    async def prompt_versions(
        self,
        info: Info,
        name: str | None = None,
        fqn: str | None = None,
        prompt_id: strawberry.ID | None = None,
        tag: str | None = None,
        label: str | None = None,
        version: VersionSelector | None = None,
        include_archived: bool = False,
        offset: int = 0,
        limit: int = 20,
    ) -> PromptVersionPage:
        result = await catalog.list_versions(
            info.context.db,
            info.context.principal,
            name=name,
            fqn=fqn,
            prompt_id=prompt_id,
            tag=tag,
            label=label,
            version=version,
            include_archived=include_archived,
            page=validation.page(offset, limit),
        )
        return PromptVersionPage.of([PromptVersion.from_record(r) for r in result.items], result)

    @strawberry.field(
        description="Exactly one of name and fqn; the latest version unless a version or "
        "label is given; null when nothing matches."
    )
    async def prompt_version(
        self,
        info: Info,
        name: str | None = None,
        fqn: str | None = None,
        version: VersionSelector | None = None,
        label: str | None = None,
    ) -> PromptVersion | None:
        record = await catalog.find_version(
            info.context.db,
            info.context.principal,
            name=name,
            fqn=fqn,
            version=version,
            label=label,
        )
        return PromptVersion.maybe(record)

    @strawberry.field(
        description="Metrics of every version, newest first, each tested against the baseline: "
        "the `baseline` argument, else the version labelled production, else the latest."
    )
    async def compare_prompt_versions(
        self,
        info: Info,
        name: str,
        since: datetime | None = None,
        until: datetime | None = None,
        baseline: int | None = None,
    ) -> PromptComparison:
        record = await comparison.compare_versions(
            info.context.db, info.context.principal, name, Window(since, until), baseline
        )
        return PromptComparison.of(record)
