"""Root mutations: thin wrappers over the registry service."""

import strawberry

from promptgraph.schema.content import UpdatePromptVersionInput
from promptgraph.schema.types import (
    CreateIntegrationInput,
    CreatePromptVersionInput,
    Info,
    Integration,
    Prompt,
    PromptVersion,
    RecordTracesPayload,
    RecordUsageInput,
    RecordUsagePayload,
    SavePromptVersionInput,
    TraceInput,
)
from promptgraph.services import registry, usage


@strawberry.type
class Mutation:
    @strawberry.mutation(description="CONFLICT if the version exists; creates the prompt.")
    async def create_prompt_version(
        self, info: Info, input: CreatePromptVersionInput
    ) -> PromptVersion:
        record = await registry.create_version(
            info.context.db,
            info.context.principal,
            input.name,
            input.version,
            input.content(),
            labels=input.labels or (),
        )
        return PromptVersion.from_record(record)

    @strawberry.mutation(
        description="Create or overwrite a version; autoIncrement takes the next number."
    )
    async def save_prompt_version(self, info: Info, input: SavePromptVersionInput) -> PromptVersion:
        record = await registry.save_version(
            info.context.db,
            info.context.principal,
            input.name,
            input.content(),
            version=input.version,
            auto_increment=input.auto_increment,
            labels=input.labels or (),
        )
        return PromptVersion.from_record(record)

    @strawberry.mutation(
        description="Changes part of a version's content; the previous content becomes a revision."
    )
    async def update_prompt_version(
        self, info: Info, input: UpdatePromptVersionInput
    ) -> PromptVersion:
        record = await registry.update_version(
            info.context.db, info.context.principal, input.name, input.version, input.update()
        )
        return PromptVersion.from_record(record)

    @strawberry.mutation(description="Replaces the version's tags.")
    async def set_prompt_version_tags(
        self, info: Info, name: str, version: int, tags: list[str]
    ) -> PromptVersion:
        record = await registry.set_tags(
            info.context.db, info.context.principal, name, version, tags
        )
        return PromptVersion.from_record(record)

    @strawberry.mutation(description="Moves the label to this version.")
    async def set_label(self, info: Info, name: str, label: str, version: int) -> PromptVersion:
        record = await registry.set_label(
            info.context.db, info.context.principal, name, label, version
        )
        return PromptVersion.from_record(record)

    @strawberry.mutation
    async def remove_label(self, info: Info, name: str, label: str) -> Prompt:
        row = await registry.remove_label(info.context.db, info.context.principal, name, label)
        return Prompt.from_row(row)

    @strawberry.mutation
    async def archive_prompt_version(
        self, info: Info, name: str, version: int, archived: bool = True
    ) -> PromptVersion:
        record = await registry.archive_version(
            info.context.db, info.context.principal, name, version, archived
        )
        return PromptVersion.from_record(record)

    @strawberry.mutation
    async def create_integration(self, info: Info, input: CreateIntegrationInput) -> Integration:
        row = await registry.create_integration(
            info.context.db, info.context.principal, input.name, input.provider, input.models
        )
        return Integration(name=row.name, provider=row.provider, models=row.models)

    @strawberry.mutation(description="Idempotent on (version, trace, span).")
    async def record_usage(self, info: Info, input: RecordUsageInput) -> RecordUsagePayload:
        await usage.record_usage(
            info.context.db,
            info.context.principal,
            usage.UsageRecord(
                input.prompt_name, input.prompt_version, input.trace_id, input.span_id
            ),
            None if input.outcome is None else input.outcome.outcome(input.trace_id),
        )
        return RecordUsagePayload(status="recorded")

    @strawberry.mutation(description="Upserts up to 1,000 trace outcomes.")
    async def record_traces(self, info: Info, traces: list[TraceInput]) -> RecordTracesPayload:
        accepted = await usage.record_traces(
            info.context.db,
            info.context.principal,
            [trace.outcome(trace.trace_id) for trace in traces],
        )
        return RecordTracesPayload(accepted=accepted)
