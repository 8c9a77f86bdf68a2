"""TrueFoundry's prompt-versions list (seed 004): `GET /api/ml/v1/prompt-versions`, which is
the promptVersions query, each version as TrueFoundry's item with its manifest. Errors are
`{statusCode, message, error}`."""

from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Security
from fastapi.security import HTTPBearer
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response

from promptgraph.http.rest.common import (
    STATUSES,
    database_of,
    error_responses,
    principal_of,
    surface_route,
)
from promptgraph.resolvers.loaders import version_tags
from promptgraph.services import catalog, validation
from promptgraph.services.auth import Principal
from promptgraph.services.records import VersionRecord

DEFAULT_LIMIT = 20


class ErrorBody(BaseModel):
    statusCode: int
    message: str
    error: str


class PromptVersionErrors:
    statuses = STATUSES

    def render(self, status: int, code: str, message: str) -> Response:
        return JSONResponse(
            {"statusCode": status, "message": message, "error": HTTPStatus(status).phrase},
            status_code=status,
        )


class Subject(BaseModel):
    subjectId: str
    subjectType: Literal["user"] = "user"
    subjectSlug: str
    subjectDisplayName: str


class Message(BaseModel):
    role: str
    content: str
    name: str | None = None


class ModelConfiguration(BaseModel):
    provider: str | None
    model: str
    parameters: dict[str, Any]


class Manifest(BaseModel):
    name: str
    version: int
    description: str | None
    metadata: dict[str, Any]
    type: Literal["chat_prompt", "text_prompt"]
    messages: list[Message] | None = Field(description="A chat prompt's messages")
    template_text: str | None = Field(description="A text prompt's text")
    variables: dict[str, None] = Field(description="Each template variable, mapped to null")
    model_configuration: ModelConfiguration | None
    tools: list[Any] | dict[str, Any] | None
    response_format: dict[str, Any] | None


class PromptVersionItem(BaseModel):
    id: str
    fqn: str
    prompt_id: str
    created_by_subject: Subject
    manifest: Manifest
    created_at: datetime
    updated_at: datetime
    tags: list[str]

    @classmethod
    def of(cls, workspace: str, record: VersionRecord, tags: list[str]) -> "PromptVersionItem":
        row, prompt = record.version, record.prompt
        config = row.llm_config
        return cls(
            id=str(row.id),
            fqn=f"{validation.prompt_fqn(workspace, prompt.name)}:{row.version}",
            prompt_id=str(prompt.id),
            created_by_subject=Subject(
                subjectId=row.created_by,
                subjectSlug=row.created_by,
                subjectDisplayName=row.created_by,
            ),
            manifest=Manifest(
                name=prompt.name,
                version=row.version,
                description=row.description,
                metadata=row.meta,
                type="chat_prompt" if prompt.type == "CHAT" else "text_prompt",
                messages=None if row.messages is None else [Message(**m) for m in row.messages],
                template_text=row.template_text,
                variables=dict.fromkeys(row.variables),
                model_configuration=None
                if config is None
                else ModelConfiguration(
                    provider=config.get("provider"),
                    model=config["model"],
                    parameters=config.get("parameters") or {},
                ),
                tools=row.tools,
                response_format=row.response_format,
            ),
            created_at=row.created_at,
            updated_at=row.updated_at,
            tags=tags,
        )


class Pagination(BaseModel):
    total: int
    offset: int
    limit: int


class PromptVersionList(BaseModel):
    data: list[PromptVersionItem]
    pagination: Pagination


async def _principal(
    request: Request, _bearer: Annotated[object, Security(HTTPBearer(auto_error=False))]
) -> Principal:
    return await principal_of(request)


router = APIRouter(
    prefix="/api/ml/v1", tags=["Prompt versions"], route_class=surface_route(PromptVersionErrors())
)


@router.get(
    "/prompt-versions",
    response_model=PromptVersionList,
    responses=error_responses(ErrorBody, 400),
    summary="List prompt versions",
)
async def list_prompt_versions(
    request: Request,
    principal: Annotated[Principal, Depends(_principal)],
    tag: Annotated[str | None, Query(description="Versions with this tag")] = None,
    fqn: Annotated[
        str | None, Query(description="prompt:<workspace>/<name>[:<version> or :latest]")
    ] = None,
    prompt_id: Annotated[str | None, Query(description="The prompt's id")] = None,
    name: Annotated[str | None, Query(description="The prompt's name")] = None,
    version: Annotated[
        str | None, Query(description="A positive version number, or latest")
    ] = None,
    offset: Annotated[int, Query()] = 0,
    limit: Annotated[int, Query(description="1 to 100")] = DEFAULT_LIMIT,
) -> PromptVersionList:
    """promptVersions: filters combine with AND; by name, then version newest first."""
    database = database_of(request)
    result = await catalog.list_versions(
        database,
        principal,
        name=name,
        fqn=fqn,
        prompt_id=prompt_id,
        tag=tag,
        label=None,
        version=None if version is None else validation.version_selector(version),
        include_archived=False,
        page=validation.page(offset, limit),
    )
    tags = await version_tags.load(database, [r.version.id for r in result.items])
    return PromptVersionList(
        data=[
            PromptVersionItem.of(principal.workspace, record, record_tags)
            for record, record_tags in zip(result.items, tags, strict=True)
        ],
        pagination=Pagination(total=result.total, offset=result.offset, limit=result.limit),
    )
