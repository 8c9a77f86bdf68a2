"""Root fields of the prompt lifecycle: renames, aliases, deletions, integrations and
batches of usages. Thin wrappers over the registry and usage services."""

import strawberry

from promptgraph import models
from promptgraph.schema.lifecycle import DeletePromptPayload, RecordUsagesPayload
from promptgraph.schema.types import (
    CreateIntegrationInput,
    Info,
    Integration,
    Prompt,
    RecordUsageInput,
)
from promptgraph.services import registry, usage


def _integration(row: models.Integration) -> Integration:
    return Integration(name=row.name, provider=row.provider, models=row.models)


@strawberry.type
class LifecycleQuery:
    @strawberry.field(description="The workspace's integrations, sorted by name.")
    async def integrations(self, info: Info) -> list[Integration]:
        rows = await registry.list_integrations(info.context.db, info.context.principal)
        return [_integration(row) for row in rows]


@strawberry.type
class LifecycleMutation:
    @strawberry.mutation(
        description="The prompt takes newName; its former name stays as an alias that "
        "keeps resolving. CONFLICT when newName is another prompt's name or alias."
    )
    async def rename_prompt(self, info: Info, name: str, new_name: str) -> Prompt:
        row = await registry.rename_prompt(info.context.db, info.context.principal, name, new_name)
        return Prompt.from_row(row)

    @strawberry.mutation(description="Frees an alias of the prompt.")
    async def remove_prompt_alias(self, info: Info, name: str, alias: str) -> Prompt:
        row = await registry.remove_alias(info.context.db, info.context.principal, name, alias)
        return Prompt.from_row(row)

    @strawberry.mutation(
        description="ADMIN. Removes the version, its tags, revisions and usages; its labels "
        "fall back to the latest remaining active version. Its number is never reused."
    )
    async def delete_prompt_version(self, info: Info, name: str, version: int) -> Prompt:
        row = await registry.delete_version(info.context.db, info.context.principal, name, version)
        return Prompt.from_row(row)

    @strawberry.mutation(description="ADMIN. Removes the prompt with everything of it.")
    async def delete_prompt(self, info: Info, name: str) -> DeletePromptPayload:
        deleted = await registry.delete_prompt(info.context.db, info.context.principal, name)
        return DeletePromptPayload(name=deleted.name, versions_deleted=deleted.versions_deleted)

    @strawberry.mutation(description="ADMIN. Replaces provider and models.")
    async def update_integration(self, info: Info, input: CreateIntegrationInput) -> Integration:
        row = await registry.update_integration(
            info.context.db, info.context.principal, input.name, input.provider, input.models
        )
        return _integration(row)

    @strawberry.mutation(description="ADMIN.")
    async def delete_integration(self, info: Info, name: str) -> bool:
        await registry.delete_integration(info.context.db, info.context.principal, name)
        return True

    @strawberry.mutation(
        description="Up to 1,000 usages, each as recordUsage; invalid ones are rejected "
        "one by one, the others recorded."
    )
    async def record_usages(
        self, info: Info, usages: list[RecordUsageInput]
    ) -> RecordUsagesPayload:
        result = await usage.record_usage_batch(
            info.context.db,
            info.context.principal,
            [
                (
                    usage.UsageRecord(
                        item.prompt_name, item.prompt_version, item.trace_id, item.span_id
                    ),
                    None if item.outcome is None else item.outcome.outcome(item.trace_id),
                )
                for item in usages
            ],
        )
        return RecordUsagesPayload.of(result)
