"""AgentVista's dashboard prompts API (seeds 000, 001) under /api/v1/dashboard/prompts:
prompt template versions, their comparison and usage recording, over the registry, catalog,
comparison and usage services. Errors are `{"detail": message}`, as AgentVista's are."""

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Security
from fastapi.security import HTTPBearer
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response

from promptgraph.http.rest.common import (
    STATUSES,
    database_of,
    error_responses,
    every_page,
    principal_of,
    surface_route,
)
from promptgraph.services import catalog, comparison, content, registry, usage
from promptgraph.services.auth import Principal
from promptgraph.services.errors import NotFound
from promptgraph.services.metrics import Window
from promptgraph.services.records import VersionRecord

PREFIX = "/api/v1/dashboard/prompts"


class ErrorDetail(BaseModel):
    detail: str


class AgentVistaErrors:
    # Like the FastAPI service AgentVista is, invalid input is 422.
    statuses = {**STATUSES, "BAD_USER_INPUT": 422}

    def render(self, status: int, code: str, message: str) -> Response:
        return JSONResponse({"detail": message}, status_code=status)


class CreatePromptTemplate(BaseModel):
    name: str = Field(description='Prompt name used to group versions (e.g. "classify-intent")')
    version: int = Field(1, description="Integer version number")
    template_text: str = Field(description="The full prompt text at this version")
    description: str | None = Field(None, description="What changed in this version")


class PromptTemplate(BaseModel):
    id: str = Field(description="The version's id")
    name: str
    version: int
    template_text: str | None = Field(description="Null for a chat prompt's versions")
    description: str | None
    is_active: bool
    created_at: datetime

    @classmethod
    def of(cls, record: VersionRecord) -> "PromptTemplate":
        row = record.version
        return cls(
            id=str(row.id),
            name=record.prompt.name,
            version=row.version,
            template_text=row.template_text,
            description=row.description,
            is_active=row.is_active,
            created_at=row.created_at,
        )


class VersionAnalytics(BaseModel):
    version: int
    template_text: str | None
    total_traces: int
    success_rate: float | None
    avg_cost_usd: float | None
    avg_latency_ms: float | None
    p95_latency_ms: float | None


class Comparison(BaseModel):
    name: str
    versions: list[VersionAnalytics] = Field(description="Newest first")


class RecordUsage(BaseModel):
    prompt_name: str
    prompt_version: int
    trace_id: uuid.UUID
    span_id: uuid.UUID | None = None


class Recorded(BaseModel):
    status: str = Field(description='Always "recorded"')


async def _principal(
    request: Request, _bearer: Annotated[object, Security(HTTPBearer(auto_error=False))]
) -> Principal:
    return await principal_of(request)


Caller = Annotated[Principal, Depends(_principal)]

router = APIRouter(
    prefix=PREFIX, tags=["AgentVista"], route_class=surface_route(AgentVistaErrors())
)


async def _all_versions(
    request: Request, principal: Principal, name: str | None
) -> list[VersionRecord]:
    return await every_page(
        lambda page: catalog.list_versions(
            database_of(request),
            principal,
            name=name,
            fqn=None,
            prompt_id=None,
            tag=None,
            label=None,
            version=None,
            include_archived=True,
            page=page,
        )
    )


@router.post(
    "/",
    status_code=201,
    response_model=PromptTemplate,
    responses=error_responses(ErrorDetail, 403, 409, 422),
    summary="Create a prompt version",
)
async def create_prompt_version(
    body: CreatePromptTemplate, request: Request, principal: Caller
) -> PromptTemplate:
    """createPromptVersion: 409 when the version exists; creates the prompt if needed."""
    record = await registry.create_version(
        database_of(request),
        principal,
        body.name,
        body.version,
        content.VersionContent(template_text=body.template_text, description=body.description),
    )
    return PromptTemplate.of(record)


@router.get(
    "/",
    response_model=list[PromptTemplate],
    responses=error_responses(ErrorDetail),
    summary="List all prompt versions",
)
async def list_prompt_versions(request: Request, principal: Caller) -> list[PromptTemplate]:
    """Every version of the workspace, archived ones too, by name then version descending."""
    return [PromptTemplate.of(r) for r in await _all_versions(request, principal, None)]


async def _existing(request: Request, principal: Principal, name: str) -> None:
    if await catalog.find_prompt(database_of(request), principal, name=name, fqn=None) is None:
        raise NotFound(f"prompt {name!r} not found")


@router.get(
    "/{name}/versions",
    response_model=list[PromptTemplate],
    responses=error_responses(ErrorDetail, 404, 422),
    summary="List versions of a named prompt",
)
async def prompt_versions(name: str, request: Request, principal: Caller) -> list[PromptTemplate]:
    """Newest first; 404 for an unknown name."""
    await _existing(request, principal, name)
    return [PromptTemplate.of(r) for r in await _all_versions(request, principal, name)]


@router.get(
    "/{name}/compare",
    response_model=Comparison,
    responses=error_responses(ErrorDetail, 404, 422),
    summary="Compare versions",
)
async def compare_versions(name: str, request: Request, principal: Caller) -> Comparison:
    """Each version's metrics over every trace linked to it, newest first."""
    record = await comparison.compare_versions(
        database_of(request), principal, name, Window(), None
    )
    return Comparison(
        name=record.name,
        versions=[
            VersionAnalytics(
                version=v.version,
                template_text=v.template_text,
                total_traces=v.metrics.total_traces,
                success_rate=v.metrics.success_rate,
                avg_cost_usd=v.metrics.avg_cost_usd,
                avg_latency_ms=v.metrics.avg_latency_ms,
                p95_latency_ms=v.metrics.p95_latency_ms,
            )
            for v in record.versions
        ],
    )


@router.post(
    "/usage",
    status_code=201,
    response_model=Recorded,
    responses=error_responses(ErrorDetail, 403, 404, 422),
    summary="Record prompt usage",
)
async def record_usage(body: RecordUsage, request: Request, principal: Caller) -> Recorded:
    """recordUsage: idempotent on (version, trace, span)."""
    await usage.record_usage(
        database_of(request),
        principal,
        usage.UsageRecord(body.prompt_name, body.prompt_version, body.trace_id, body.span_id),
        None,
    )
    return Recorded(status="recorded")
