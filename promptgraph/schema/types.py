"""GraphQL object and input types. Leaf fields are plain attributes; list fields go through
the request's loaders."""

import typing
import uuid
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any, Generic, TypeVar

import strawberry
from strawberry.scalars import JSON
from strawberry.schema.config import StrawberryConfig

from promptgraph import models
from promptgraph.resolvers.context import Context
from promptgraph.resolvers.loaders import (
    version_by_selector,
    version_metrics,
    version_page,
    version_series,
)
from promptgraph.schema.scalars import VersionSelector
from promptgraph.services import metrics, templates, validation
from promptgraph.services.auth import Role as RoleValue
from promptgraph.services.comparison import PromptComparison as ComparisonRecord
from promptgraph.services.records import LabelRecord, PageResult, VersionRecord
from promptgraph.services.registry import VersionContent
from promptgraph.services.usage import TraceOutcome

Info = strawberry.Info[Context, None]
T = TypeVar("T")

Role = strawberry.enum(RoleValue, name="Role")
Bucket = strawberry.enum(metrics.Bucket, name="Bucket")


@strawberry.enum
class TraceStatus(Enum):
    SUCCESS = "SUCCESS"
    ERROR = "ERROR"


@strawberry.type
class Interval:
    low: float
    high: float

    @classmethod
    def maybe(cls, bounds: tuple[float, float] | None) -> "Interval | None":
        return None if bounds is None else cls(low=bounds[0], high=bounds[1])


@strawberry.type
class VersionMetrics:
    total_traces: int
    success_rate: float | None
    avg_cost_usd: float | None
    avg_latency_ms: float | None
    p50_latency_ms: float | None
    p95_latency_ms: float | None
    first_used_at: datetime | None
    last_used_at: datetime | None
    success_rate_ci95: Interval | None

    @classmethod
    def of(cls, m: metrics.Metrics) -> "VersionMetrics":
        return cls(
            total_traces=m.total_traces,
            success_rate=m.success_rate,
            avg_cost_usd=m.avg_cost_usd,
            avg_latency_ms=m.avg_latency_ms,
            p50_latency_ms=m.p50_latency_ms,
            p95_latency_ms=m.p95_latency_ms,
            first_used_at=m.first_used_at,
            last_used_at=m.last_used_at,
            success_rate_ci95=Interval.maybe(m.success_rate_ci95),
        )


@strawberry.type
class MetricsBucket:
    start: datetime
    total_traces: int
    success_rate: float | None
    avg_cost_usd: float | None
    avg_latency_ms: float | None
    p95_latency_ms: float | None


@strawberry.type
class VersionComparison:
    version: int
    template_text: str | None
    messages: "list[ChatMessage] | None"
    total_traces: int
    success_rate: float | None
    avg_cost_usd: float | None
    avg_latency_ms: float | None
    p95_latency_ms: float | None
    success_rate_ci95: Interval | None
    success_rate_p_value: float | None
    is_baseline: bool


@strawberry.type
class PromptComparison:
    name: str
    baseline_version: int | None
    versions: list[VersionComparison] = strawberry.field(description="Newest first.")

    @classmethod
    def of(cls, record: ComparisonRecord) -> "PromptComparison":
        return cls(
            name=record.name,
            baseline_version=record.baseline_version,
            versions=[
                VersionComparison(
                    version=v.version,
                    template_text=v.template_text,
                    messages=ChatMessage.many(v.messages),
                    total_traces=v.metrics.total_traces,
                    success_rate=v.metrics.success_rate,
                    avg_cost_usd=v.metrics.avg_cost_usd,
                    avg_latency_ms=v.metrics.avg_latency_ms,
                    p95_latency_ms=v.metrics.p95_latency_ms,
                    success_rate_ci95=Interval.maybe(v.metrics.success_rate_ci95),
                    success_rate_p_value=v.success_rate_p_value,
                    is_baseline=v.is_baseline,
                )
                for v in record.versions
            ],
        )


@strawberry.enum
class PromptType(Enum):
    TEXT = "TEXT"
    CHAT = "CHAT"


@strawberry.type
class Pagination:
    total: int
    offset: int
    limit: int


@strawberry.type
class Viewer:
    user: str
    workspace: str
    role: Role


@strawberry.type
class Label:
    name: str
    version: int
    updated_at: datetime

    @classmethod
    def from_record(cls, record: LabelRecord) -> "Label":
        return cls(name=record.name, version=record.version, updated_at=record.updated_at)


@strawberry.type
class ChatMessage:
    role: str
    content: str
    name: str | None = None

    @classmethod
    def many(cls, messages: list[dict[str, Any]] | None) -> "list[ChatMessage] | None":
        if messages is None:
            return None
        return [cls(role=m["role"], content=m["content"], name=m.get("name")) for m in messages]


@strawberry.type
class ModelConfig:
    provider: str | None
    model: str
    parameters: JSON

    @classmethod
    def maybe(cls, config: dict[str, Any] | None) -> "ModelConfig | None":
        if config is None:
            return None
        return cls(
            provider=config.get("provider"),
            model=config["model"],
            parameters=config.get("parameters") or {},
        )


@strawberry.type
class PromptRevision:
    """The whole content a save or an update replaced."""

    template_text: str | None
    messages: list[ChatMessage] | None
    description: str | None
    model_config: ModelConfig | None
    tools: JSON | None
    response_format: JSON | None
    metadata: JSON
    models: list[str]
    replaced_at: datetime
    replaced_by: str

    @classmethod
    def from_row(cls, row: models.PromptRevision) -> "PromptRevision":
        return cls(
            template_text=row.template_text,
            messages=ChatMessage.many(row.messages),
            description=row.description,
            model_config=ModelConfig.maybe(row.llm_config),
            tools=row.tools,
            response_format=row.response_format,
            metadata=row.meta,
            models=row.models,
            replaced_at=row.replaced_at,
            replaced_by=row.replaced_by,
        )


@strawberry.type
class RenderedPrompt:
    text: str | None
    messages: list[ChatMessage] | None


@strawberry.type
class Integration:
    name: str
    provider: str
    models: list[str]


@strawberry.type
class Page(Generic[T]):
    items: list[T]
    pagination: Pagination

    @classmethod
    def of(cls, items: list[T], page: PageResult[Any]) -> "Page[T]":
        return cls(
            items=items,
            pagination=Pagination(total=page.total, offset=page.offset, limit=page.limit),
        )


@strawberry.type
class Prompt:
    row: strawberry.Private[models.Prompt]
    id: strawberry.ID
    name: str
    type: PromptType
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: models.Prompt) -> "Prompt":
        return cls(
            row=row,
            id=strawberry.ID(str(row.id)),
            name=row.name,
            type=PromptType(row.type),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @strawberry.field
    def fqn(self, info: Info) -> str:
        return validation.prompt_fqn(info.context.principal.workspace, self.name)

    @strawberry.field
    async def version_count(self, info: Info) -> int:
        return await info.context.loaders.version_count.load(self.row.id)

    @strawberry.field
    async def latest_version(self, info: Info) -> "PromptVersion | None":
        return PromptVersion.maybe(await info.context.loaders.latest_version.load(self.row.id))

    @strawberry.field(description="Exactly one of version and label.")
    async def version(
        self,
        info: Info,
        version: VersionSelector | None = None,
        label: str | None = None,
    ) -> "PromptVersion | None":
        validation.one_of({"version": version, "label": label})
        if label == validation.LATEST or version == validation.LATEST:
            return await self.latest_version(info)
        if label is not None:
            key = version_by_selector.Key(self.row.id, label=validation.label_name(label))
        else:
            key = version_by_selector.Key(self.row.id, version=version)
        return PromptVersion.maybe(await info.context.loaders.version_by_selector.load(key))

    @strawberry.field(description="Newest first.")
    async def versions(
        self,
        info: Info,
        tag: str | None = None,
        include_archived: bool = False,
        offset: int = 0,
        limit: int = 20,
    ) -> "PromptVersionPage":
        page = validation.page(offset, limit)
        result = await info.context.loaders.version_page.load(
            version_page.Key(
                self.row.id, validation.tag_filter(tag), include_archived, page.offset, page.limit
            )
        )
        return PromptVersionPage.of([PromptVersion.from_record(r) for r in result.items], result)

    @strawberry.field
    async def labels(self, info: Info) -> list[Label]:
        return [
            Label.from_record(r) for r in await info.context.loaders.prompt_labels.load(self.row.id)
        ]


@strawberry.type
class PromptVersion:
    record: strawberry.Private[VersionRecord]
    id: strawberry.ID
    name: str
    version: int
    type: PromptType
    template_text: str | None
    messages: list[ChatMessage] | None
    variables: list[str]
    description: str | None
    model_config: ModelConfig | None
    tools: JSON | None
    response_format: JSON | None
    metadata: JSON
    models: list[str]
    is_active: bool
    created_at: datetime
    updated_at: datetime
    created_by: str

    @classmethod
    def from_record(cls, record: VersionRecord) -> "PromptVersion":
        row, prompt = record.version, record.prompt
        return cls(
            record=record,
            id=strawberry.ID(str(row.id)),
            name=prompt.name,
            version=row.version,
            type=PromptType(prompt.type),
            template_text=row.template_text,
            messages=ChatMessage.many(row.messages),
            variables=row.variables,
            description=row.description,
            model_config=ModelConfig.maybe(row.llm_config),
            tools=row.tools,
            response_format=row.response_format,
            metadata=row.meta,
            models=row.models,
            is_active=row.is_active,
            created_at=row.created_at,
            updated_at=row.updated_at,
            created_by=row.created_by,
        )

    @classmethod
    def maybe(cls, record: VersionRecord | None) -> "PromptVersion | None":
        return None if record is None else cls.from_record(record)

    @strawberry.field
    def fqn(self, info: Info) -> str:
        return (
            f"{validation.prompt_fqn(info.context.principal.workspace, self.name)}:{self.version}"
        )

    @strawberry.field
    def prompt(self) -> Prompt:
        return Prompt.from_row(self.record.prompt)

    @strawberry.field
    async def tags(self, info: Info) -> list[str]:
        if self.record.tags is not None:
            return list(self.record.tags)
        return await info.context.loaders.version_tags.load(self.record.version.id)

    @strawberry.field
    async def labels(self, info: Info) -> list[str]:
        if self.record.labels is not None:
            return list(self.record.labels)
        return await info.context.loaders.version_labels.load(self.record.version.id)

    @strawberry.field
    async def is_latest(self, info: Info) -> bool:
        latest = await info.context.loaders.latest_version.load(self.record.prompt.id)
        return latest is not None and latest.version.id == self.record.version.id

    @strawberry.field(description="Overwritten contents, newest first.")
    async def revisions(self, info: Info) -> list[PromptRevision]:
        rows = await info.context.loaders.version_revisions.load(self.record.version.id)
        return [PromptRevision.from_row(row) for row in rows]

    @strawberry.field(description="Over the traces whose usage time lies in [since, until).")
    async def metrics(
        self, info: Info, since: datetime | None = None, until: datetime | None = None
    ) -> VersionMetrics:
        key = version_metrics.Key(self.record.version.id, metrics.Window(since, until))
        return VersionMetrics.of(await info.context.loaders.version_metrics.load(key))

    @strawberry.field(description="UTC buckets over [since, until), empty ones included.")
    async def metrics_series(
        self, info: Info, since: datetime, until: datetime, bucket: Bucket = Bucket.DAY
    ) -> list[MetricsBucket]:
        metrics.bucket_starts(since, until, bucket)  # rejects a bad window before any query
        key = version_series.Key(self.record.version.id, since, until, bucket)
        return [
            MetricsBucket(
                start=start,
                total_traces=m.total_traces,
                success_rate=m.success_rate,
                avg_cost_usd=m.avg_cost_usd,
                avg_latency_ms=m.avg_latency_ms,
                p95_latency_ms=m.p95_latency_ms,
            )
            for start, m in await info.context.loaders.version_series.load(key)
        ]

    @strawberry.field(description="Null, with an error at `render`, when rendering fails.")
    def render(self, variables: JSON) -> RenderedPrompt | None:
        given = validation.json_object(variables, "variables")
        templates.require_variables(self.variables, given)
        if self.template_text is not None:
            return RenderedPrompt(text=templates.render(self.template_text, given), messages=None)
        return RenderedPrompt(
            text=None,
            messages=[
                ChatMessage(role=m.role, content=templates.render(m.content, given), name=m.name)
                for m in self.messages or []
            ],
        )


@strawberry.type(name="PromptPage")
class PromptPage(Page[Prompt]):
    pass


@strawberry.type(name="PromptVersionPage")
class PromptVersionPage(Page[PromptVersion]):
    pass


@strawberry.input
class ChatMessageInput:
    role: str
    content: str
    name: str | None = None


@strawberry.input
class ModelConfigInput:
    provider: str | None = None
    model: str
    parameters: JSON | None = None

    @staticmethod
    def value(config: "ModelConfigInput | None") -> dict[str, Any] | None:
        if config is None:
            return None
        return {"provider": config.provider, "model": config.model, "parameters": config.parameters}


@strawberry.input
class VersionContentInput:
    """Fields shared by the create and save inputs."""

    name: str
    template_text: str | None = None
    messages: list[ChatMessageInput] | None = None
    description: str | None = None
    model_config: ModelConfigInput | None = None
    tools: JSON | None = None
    response_format: JSON | None = None
    metadata: JSON | None = None
    models: list[str] | None = None
    tags: list[str] | None = None
    labels: list[str] | None = strawberry.field(
        default=None, description="Set on the saved version in the same transaction."
    )

    def content(self) -> VersionContent:
        return VersionContent(
            template_text=self.template_text,
            messages=None
            if self.messages is None
            else [{"role": m.role, "content": m.content, "name": m.name} for m in self.messages],
            description=self.description,
            model_config=ModelConfigInput.value(self.model_config),
            tools=self.tools,
            response_format=self.response_format,
            metadata=self.metadata,
            models=self.models,
            tags=self.tags,
        )


@strawberry.input
class CreatePromptVersionInput(VersionContentInput):
    version: int = 1


@strawberry.input
class SavePromptVersionInput(VersionContentInput):
    version: int | None = None
    auto_increment: bool = False


@strawberry.input
class CreateIntegrationInput:
    name: str
    provider: str
    models: list[str]


@strawberry.input
class TraceOutcomeInput:
    status: TraceStatus | None = None
    cost_usd: float | None = None
    latency_ms: float | None = None
    started_at: datetime | None = None

    def outcome(self, trace_id: uuid.UUID) -> TraceOutcome:
        return TraceOutcome(
            trace_id=trace_id,
            status=None if self.status is None else self.status.value,
            cost_usd=self.cost_usd,
            latency_ms=self.latency_ms,
            started_at=self.started_at,
        )


@strawberry.input
class TraceInput(TraceOutcomeInput):
    trace_id: uuid.UUID


def _build_from_scalars(input_type: type) -> None:
    """Strawberry builds an input value field by field, resolving each field's type and
    GraphQL name again for every value: for a batch of 1,000 traces that was most of the
    request (about 40 ms of 100). When every field is a scalar or an enum, which graphql-core
    has already parsed, the value is built straight from its fields instead, through the
    `from_input` hook that strawberry's type definitions declare for integrations (its
    pydantic support uses it). Nothing else of strawberry is relied on: were the hook ever
    dropped, strawberry's own conversion builds the same values, only slower."""
    definition = input_type.__strawberry_definition__
    names = StrawberryConfig().name_converter
    fields = [(names.from_field(field), field.python_name) for field in definition.fields]
    annotations = typing.get_type_hints(input_type)
    for field in definition.fields:
        leaf, *_ = typing.get_args(annotations[field.python_name]) or [
            annotations[field.python_name]
        ]
        is_enum = isinstance(leaf, type) and issubclass(leaf, Enum)
        if not (is_enum or leaf in (str, int, float, bool, datetime, uuid.UUID)):
            raise TypeError(f"{input_type.__name__}.{field.python_name} is not a scalar")

    def from_input(cls: type, value: Mapping[str, Any], _context: object) -> Any:
        return cls(**{python: value.get(graphql) for graphql, python in fields})

    definition.from_input = from_input


_build_from_scalars(TraceInput)


@strawberry.input
class RecordUsageInput:
    prompt_name: str
    prompt_version: int
    trace_id: uuid.UUID
    span_id: uuid.UUID | None = None
    outcome: TraceOutcomeInput | None = None


@strawberry.type
class RecordUsagePayload:
    status: str


@strawberry.type
class RecordTracesPayload:
    accepted: int
