"""The prompt repository of a RAG application (seed 003) under /api/v2/prompts: its manifest,
repository and editor saves, promotion to default and revert, over the catalog and registry
services. A prompt's type is its version's metadata key `prompt_type` (`system`, `response`,
`experiment`); "default" is the label `default`. Form posts answer 303 to /api/v2/prompts with
the seed's flags; errors are `{"detail": message}`."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode

import orjson
from fastapi import APIRouter, Depends, Request, Security
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import JSONResponse, RedirectResponse, Response

from promptgraph.http.rest.common import (
    STATUSES,
    database_of,
    error_responses,
    every_page,
    principal_of,
    surface_route,
)
from promptgraph.resolvers.loaders import version_tags
from promptgraph.services import catalog, content, registry
from promptgraph.services.auth import Principal
from promptgraph.services.errors import BadUserInput, NotFound
from promptgraph.services.records import VersionRecord

PREFIX = "/api/v2/prompts"
DEFAULT_LABEL = "default"
TYPE_KEY = "prompt_type"
SUFFIX = ".j2"
METADATA_PREFIX = "metadata_"
# Type -> the manifest's group of its prompts, and the prompt an editor save writes when the
# type has no default yet.
GROUPS = {"system": "system_prompts", "response": "response_templates", "experiment": "experiments"}
EDITOR_FIELDS = {"system_prompt": "system", "response_template": "response"}
PromptType = Literal["system", "response", "experiment"]


class ErrorDetail(BaseModel):
    detail: str


class RepositoryErrors:
    statuses = STATUSES

    def render(self, status: int, code: str, message: str) -> Response:
        return JSONResponse({"detail": message}, status_code=status)


class PromptEntry(BaseModel):
    id: str = Field(description="The id of the version shown: the default, else the latest")
    name: str
    metadata: dict[str, Any]
    is_current: bool = Field(description="Whether the prompt has a default version")


class VersionEntry(BaseModel):
    id: str
    name: str
    version: int
    is_current: bool = Field(description="Whether this version is the prompt's default")
    metadata: dict[str, Any]
    tags: list[str]
    saved_by: str
    saved_at: datetime


class VersionEntries(BaseModel):
    entries: list[VersionEntry] = Field(description="By name, then newest first")


class Manifest(BaseModel):
    prompts: dict[str, list[PromptEntry]]
    configured_defaults: dict[str, list[str] | str | None]
    effective: dict[str, str | None]
    source: str
    versions_by_type: dict[str, VersionEntries]


class RepositoryForm(BaseModel):
    """Form or JSON fields of `POST /api/v2/prompts`, all optional; which are given decides
    what the post does."""

    model_config = ConfigDict(extra="allow")  # metadata_<key> fields

    action: Literal["make_default_prompt", "update_prompt_metadata"] | None = None
    prompt_type: PromptType | None = None
    prompt_identifier: str | None = Field(None, description="Version id, filename or path")
    new_prompt_name: str | None = None
    new_prompt_type: PromptType | None = None
    new_prompt_content: str | None = None
    system_prompt: str | None = None
    system_prompt_label: str | None = None
    system_prompt_make_default: Literal["on"] | None = None
    response_template: str | None = None
    response_template_label: str | None = None
    response_template_make_default: Literal["on"] | None = None


class Revert(BaseModel):
    type: PromptType
    name: str
    version: int | str = Field(description="A version number")


class Reverted(BaseModel):
    status: Literal["success"]
    reverted_to: int


@dataclass(frozen=True)
class Repository:
    """The workspace's prompts that have a type, each with its active versions newest first."""

    versions: dict[str, list[VersionRecord]]  # name -> versions
    types: dict[str, str]  # name -> type
    defaults: dict[str, VersionRecord]  # name -> its default version

    def shown(self, name: str) -> VersionRecord:
        return self.defaults.get(name) or self.versions[name][0]

    def names(self, prompt_type: str) -> list[str]:
        return sorted(name for name, kind in self.types.items() if kind == prompt_type)

    def default_names(self, prompt_type: str) -> list[str]:
        return [name for name in self.names(prompt_type) if name in self.defaults]

    def find(self, prompt_type: str | None, identifier: str) -> VersionRecord:
        """A version by id, or a prompt's latest by filename or path (`.j2` optional)."""
        names = self.names(prompt_type) if prompt_type else sorted(self.types)
        if identifier.isdigit():
            for name in names:
                for record in self.versions[name]:
                    if str(record.version.id) == identifier:
                        return record
        filename = identifier.rpartition("/")[2]
        for candidate in (filename, with_suffix(filename)):
            if candidate in names:
                return self.versions[candidate][0]
        raise NotFound(f"no {prompt_type or ''} prompt {identifier!r} in the repository")


def with_suffix(name: str) -> str:
    return name if name.endswith(SUFFIX) else f"{name}{SUFFIX}"


def _type_of(record: VersionRecord) -> str | None:
    kind = (record.version.meta or {}).get(TYPE_KEY)
    return kind if kind in GROUPS else None


async def _repository(request: Request, principal: Principal) -> Repository:
    def pages(label: str | None) -> Any:
        return every_page(
            lambda page: catalog.list_versions(
                database_of(request),
                principal,
                name=None,
                fqn=None,
                prompt_id=None,
                tag=None,
                label=label,
                version=None,
                include_archived=False,
                page=page,
            )
        )

    versions: dict[str, list[VersionRecord]] = {}
    for record in await pages(None):
        versions.setdefault(record.prompt.name, []).append(record)
    defaults = {record.prompt.name: record for record in await pages(DEFAULT_LABEL)}
    types = {}
    for name, records in versions.items():
        kind = _type_of(defaults.get(name) or records[0])
        if kind is not None:
            types[name] = kind
    return Repository(
        {name: versions[name] for name in types},
        types,
        {name: record for name, record in defaults.items() if name in types and name in versions},
    )


async def _principal(
    request: Request, _bearer: Annotated[object, Security(HTTPBearer(auto_error=False))]
) -> Principal:
    return await principal_of(request)


Caller = Annotated[Principal, Depends(_principal)]

router = APIRouter(
    prefix=PREFIX, tags=["Prompt repository"], route_class=surface_route(RepositoryErrors())
)


@router.get(
    "",
    response_model=Manifest,
    responses=error_responses(ErrorDetail),
    summary="List prompts (the manifest)",
)
async def manifest(request: Request, principal: Caller) -> Manifest:
    """The manifest, whether or not `?json=true` or `Accept: application/json` asks for it."""
    repository = await _repository(request, principal)
    ids = [r.version.id for records in repository.versions.values() for r in records]
    tags = dict(zip(ids, await version_tags.load(database_of(request), ids), strict=True))

    def text(names: list[str]) -> str | None:
        return repository.defaults[names[0]].version.template_text if names else None

    system, response = repository.default_names("system"), repository.default_names("response")
    return Manifest(
        prompts={
            group: [
                PromptEntry(
                    id=str(repository.shown(name).version.id),
                    name=name,
                    metadata=repository.shown(name).version.meta,
                    is_current=name in repository.defaults,
                )
                for name in repository.names(kind)
            ]
            for kind, group in GROUPS.items()
        },
        configured_defaults={
            "system_prompts": system,
            "response_template": (response or [None])[0],
        },
        effective={"system_prompt": text(system), "response_template": text(response)},
        source="promptgraph",
        versions_by_type={
            kind: VersionEntries(
                entries=[
                    VersionEntry(
                        id=str(record.version.id),
                        name=name,
                        version=record.version.version,
                        is_current=repository.defaults.get(name) == record,
                        metadata=record.version.meta,
                        tags=tags[record.version.id],
                        saved_by=record.version.created_by,
                        saved_at=record.version.created_at,
                    )
                    for name in repository.names(kind)
                    for record in repository.versions[name]
                ]
            )
            for kind in GROUPS
        },
    )


async def _fields(request: Request) -> RepositoryForm:
    """The post's fields, from a URL-encoded form or a JSON object."""
    body = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            given: Any = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise BadUserInput("the body is not valid JSON") from error
        if not isinstance(given, dict):
            raise BadUserInput("the body must be a JSON object")
    else:
        given = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    try:
        return RepositoryForm.model_validate(given)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise BadUserInput(problems) from error


def _redirect(flags: Mapping[str, str]) -> Response:
    return RedirectResponse(f"{PREFIX}?{urlencode(flags)}", status_code=303)


async def _save(
    request: Request,
    principal: Principal,
    name: str,
    text: str,
    metadata: dict[str, Any],
    make_default: bool = False,
) -> VersionRecord:
    """A new version; made default in the same transaction when asked."""
    return await registry.save_version(
        database_of(request),
        principal,
        name,
        content.VersionContent(template_text=text, metadata=metadata),
        version=None,
        auto_increment=True,
        labels=[DEFAULT_LABEL] if make_default else [],
    )


async def _make_default(request: Request, principal: Principal, record: VersionRecord) -> None:
    await registry.set_label(
        database_of(request), principal, record.prompt.name, DEFAULT_LABEL, record.version.version
    )


FORM_BODY = {
    "required": True,
    "content": {
        media: {"schema": RepositoryForm.model_json_schema()}
        for media in ("application/x-www-form-urlencoded", "application/json")
    },
}


@router.post(
    "",
    status_code=303,
    response_class=Response,
    responses={
        303: {"description": "To /api/v2/prompts with saved, default_set or error=default_failed"},
        **error_responses(ErrorDetail, 400, 403, 404),
    },
    openapi_extra={"requestBody": FORM_BODY},
    summary="Save a prompt, or make one default",
)
async def post(request: Request, principal: Caller) -> Response:
    """A new prompt (`new_prompt_*`), an editor save (`system_prompt*`, `response_template*`),
    `action=make_default_prompt` or `action=update_prompt_metadata` (`metadata_<key>`)."""
    form = await _fields(request)
    if form.action == "make_default_prompt":
        try:
            if not form.prompt_identifier:
                raise BadUserInput("prompt_identifier is required")
            repository = await _repository(request, principal)
            record = repository.find(form.prompt_type, form.prompt_identifier)
            await _make_default(request, principal, record)
        except (BadUserInput, NotFound):
            return _redirect({"error": "default_failed"})
        return _redirect({"default_set": "true"})
    if form.action == "update_prompt_metadata":
        if not form.prompt_identifier or form.prompt_type is None:
            raise BadUserInput("prompt_identifier and prompt_type are required")
        given = {
            key.removeprefix(METADATA_PREFIX): value
            for key, value in (form.model_extra or {}).items()
            if key.startswith(METADATA_PREFIX) and key != METADATA_PREFIX
        }
        repository = await _repository(request, principal)
        record = repository.find(form.prompt_type, form.prompt_identifier)
        # The form names the keys it changes; the others, and the type, stay.
        metadata = {**record.version.meta, **given, TYPE_KEY: form.prompt_type}
        await registry.update_version(
            database_of(request),
            principal,
            record.prompt.name,
            record.version.version,
            content.ContentUpdate(metadata=metadata),
        )
        return _redirect({"metadata_saved": "true"})
    if form.new_prompt_name is not None:
        if form.new_prompt_type is None or form.new_prompt_content is None:
            raise BadUserInput("new_prompt_type and new_prompt_content are required")
        await _save(
            request,
            principal,
            with_suffix(form.new_prompt_name),
            form.new_prompt_content,
            {TYPE_KEY: form.new_prompt_type},
        )
        return _redirect({"saved": "true"})
    edits = [
        (field, kind) for field, kind in EDITOR_FIELDS.items() if getattr(form, field) is not None
    ]
    if not edits:
        raise BadUserInput(
            "nothing to do: give new_prompt_*, system_prompt, response_template or action"
        )
    flags = {"saved": "true"}
    repository = await _repository(request, principal)
    for field, kind in edits:
        current = repository.default_names(kind)
        name = current[0] if current else with_suffix(field)
        metadata = {TYPE_KEY: kind}
        label = getattr(form, f"{field}_label")
        if label:
            metadata["label"] = label
        make_default = getattr(form, f"{field}_make_default") == "on"
        await _save(request, principal, name, getattr(form, field), metadata, make_default)
        if make_default:
            flags["default_set"] = "true"
    return _redirect(flags)


@router.post(
    "/revert",
    response_model=Reverted,
    responses=error_responses(ErrorDetail, 400, 403, 404),
    summary="Revert a prompt to a previous version",
)
async def revert(body: Revert, request: Request, principal: Caller) -> Reverted:
    """Makes that version of the prompt its default."""
    version = body.version
    if isinstance(version, str) and not version.isdigit():
        raise BadUserInput(f"version {version!r} is not a version number")
    repository = await _repository(request, principal)
    prompt = repository.find(body.type, body.name).prompt.name
    record = next(
        (r for r in repository.versions[prompt] if r.version.version == int(version)), None
    )
    if record is None:
        raise NotFound(f"version {version} of prompt {prompt!r} not found")
    await _make_default(request, principal, record)
    return Reverted(status="success", reverted_to=record.version.version)
