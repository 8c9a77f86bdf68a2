"""Writes: versions, tags, labels, archiving and integrations.

Every write to a prompt or its versions first takes the prompt's row lock (by moving its
`updated_at`), so writes to one prompt are serialised: auto-increment numbers never collide,
overwrites never lose a revision, and a label never ends up on two versions.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from promptgraph import changes
from promptgraph.db import Database
from promptgraph.models import (
    Integration,
    Prompt,
    PromptLabel,
    PromptRevision,
    PromptVersion,
    VersionTag,
    utcnow,
)
from promptgraph.services import templates, validation
from promptgraph.services.auth import Principal, Role
from promptgraph.services.errors import BadUserInput, NotFound, raise_for_integrity_error
from promptgraph.services.records import VersionRecord

TEXT, CHAT = "TEXT", "CHAT"
MAX_MESSAGES = 100
MAX_CONTENT_LENGTH = 200_000
MAX_ROLE_LENGTH = 64
MAX_MODEL_LENGTH = 256
MAX_MODELS = 100


@dataclass
class VersionContent:
    """What a client gives for a version. None means "not given"."""

    template_text: str | None = None
    messages: list[dict[str, Any]] | None = None
    description: str | None = None
    model_config: dict[str, Any] | None = None
    tools: Any = None
    response_format: Any = None
    metadata: dict[str, Any] | None = None
    models: list[str] | None = None
    tags: list[str] | None = None
    type: str = field(init=False, default=TEXT)
    variables: list[str] = field(init=False, default_factory=list)

    def validate(self) -> "VersionContent":
        validation.one_of({"templateText": self.template_text, "messages": self.messages})
        if self.template_text is not None:
            self.type = TEXT
            _check_length(self.template_text, "templateText")
            sources = [self.template_text]
        else:
            self.type = CHAT
            self.messages = [_message(m) for m in self.messages or []]
            if not 1 <= len(self.messages) <= MAX_MESSAGES:
                raise BadUserInput(f"messages must hold 1 to {MAX_MESSAGES} messages")
            sources = [m["content"] for m in self.messages]
        self.variables = templates.variables_of(sources)
        if self.description is not None:
            _check_length(self.description, "description")
        if self.model_config is not None:
            self.model_config = _model_config(self.model_config)
        if self.metadata is not None:
            validation.json_object(self.metadata, "metadata")
        if self.response_format is not None:
            validation.json_object(self.response_format, "responseFormat")
        if self.tools is not None:
            if not isinstance(self.tools, list | dict):
                raise BadUserInput("tools must be a JSON array or object", field="tools")
            validation.json_value(self.tools, "tools")
        if self.tags is not None:
            self.tags = validation.tags(self.tags)
        if self.models is not None:
            self.models = sorted(set(self.models))
            if len(self.models) > MAX_MODELS:
                raise BadUserInput(f"at most {MAX_MODELS} models per version", field="models")
            for model in self.models:
                _split_model(model)
        return self


def _check_length(text: str, field: str) -> None:
    if len(text) > MAX_CONTENT_LENGTH:
        raise BadUserInput(f"{field} is longer than {MAX_CONTENT_LENGTH} characters", field=field)


def _message(message: dict[str, Any]) -> dict[str, Any]:
    """A message's content is free text (newlines, tabs, any script); its role and name
    name something, so they follow the rules of names."""
    role, content, name = message.get("role"), message.get("content"), message.get("name")
    if not isinstance(role, str):
        raise BadUserInput("each message needs a role", field="messages")
    validation.free_name(role, "messages.role", MAX_ROLE_LENGTH)
    if name is not None:
        validation.free_name(name, "messages.name")
    if not isinstance(content, str):
        raise BadUserInput("each message needs a string content", field="messages")
    _check_length(content, "messages.content")
    return {"role": role, "content": content, "name": name}


def _model_config(config: dict[str, Any]) -> dict[str, Any]:
    model, provider = config.get("model"), config.get("provider")
    if not isinstance(model, str):
        raise BadUserInput("modelConfig.model must be a non-empty string", field="modelConfig")
    validation.free_name(model, "modelConfig.model", MAX_MODEL_LENGTH)
    if provider is not None:
        validation.free_name(provider, "modelConfig.provider")
    parameters = config.get("parameters")
    parameters = {} if parameters is None else validation.json_object(parameters, "parameters")
    return {"provider": provider, "model": model, "parameters": parameters}


def _split_model(model: str) -> tuple[str, str]:
    validation.free_name(model, "models", validation.MAX_NAME_LENGTH + 1 + MAX_MODEL_LENGTH)
    integration, sep, name = model.partition(":")
    if not sep or not integration or not name:
        raise BadUserInput(f"model {model!r} must be written integration:model", field="models")
    return integration, name


@asynccontextmanager
async def _transaction(db: Database, principal: Principal) -> AsyncIterator[AsyncSession]:
    """A write to the principal's workspace, announced to every cache when it commits."""
    try:
        async with db.write() as session:
            yield session
            await changes.announce(session, principal.workspace_id)
    except IntegrityError as error:
        raise_for_integrity_error(error)


async def _lock_prompt(
    db: Database, session: AsyncSession, principal: Principal, name: str, create_as: str | None
) -> Prompt:
    """The prompt's row, locked for this transaction; created first when `create_as` is set."""
    validation.prompt_name(name)
    now = utcnow()
    if create_as is not None:
        await session.execute(
            db.insert(Prompt)
            .values(
                workspace_id=principal.workspace_id,
                name=name,
                type=create_as,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing()
        )
    prompt = (
        await session.execute(
            update(Prompt)
            .where(Prompt.workspace_id == principal.workspace_id, Prompt.name == name)
            .values(updated_at=now)
            .returning(Prompt)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if prompt is None:
        raise NotFound(f"prompt {name!r} not found")
    if create_as is not None and prompt.type != create_as:
        raise BadUserInput(
            f"prompt {name!r} is a {prompt.type} prompt; this version is {create_as}"
        )
    return prompt


async def _find_version(
    session: AsyncSession, prompt: Prompt, version: int
) -> PromptVersion | None:
    return (
        await session.execute(
            select(PromptVersion).where(
                PromptVersion.prompt_id == prompt.id, PromptVersion.version == version
            )
        )
    ).scalar_one_or_none()


async def _version(session: AsyncSession, prompt: Prompt, version: int) -> PromptVersion:
    row = await _find_version(session, prompt, version)
    if row is None:
        raise NotFound(f"version {version} of prompt {prompt.name!r} not found")
    return row


async def _check_models(session: AsyncSession, principal: Principal, models: list[str]) -> None:
    if not models:
        return
    wanted = [_split_model(model) for model in models]
    rows = await session.execute(
        select(Integration.name, Integration.models).where(
            Integration.workspace_id == principal.workspace_id,
            Integration.name.in_({integration for integration, _ in wanted}),
        )
    )
    offered = {name: set(listed) for name, listed in rows}
    for integration, model in wanted:
        if model not in offered.get(integration, set()):
            raise NotFound(f"no integration {integration!r} offering model {model!r}")


async def _add_tags(session: AsyncSession, db: Database, version_id: int, tags: list[str]) -> None:
    if tags:
        await session.execute(
            db.insert(VersionTag)
            .values([{"version_id": version_id, "tag": tag} for tag in tags])
            .on_conflict_do_nothing()
        )


async def _insert_version(
    db: Database,
    session: AsyncSession,
    principal: Principal,
    prompt: Prompt,
    number: int,
    content: VersionContent,
) -> PromptVersion:
    now = utcnow()
    row = PromptVersion(
        prompt_id=prompt.id,
        version=number,
        template_text=content.template_text,
        messages=content.messages,
        variables=content.variables,
        description=content.description,
        llm_config=content.model_config,
        tools=content.tools,
        response_format=content.response_format,
        meta=content.metadata or {},
        models=content.models or [],
        is_active=True,
        created_at=now,
        updated_at=now,
        created_by=principal.user,
    )
    session.add(row)
    await session.flush()
    await _add_tags(session, db, row.id, content.tags or [])
    return row


async def _overwrite_version(
    db: Database,
    session: AsyncSession,
    principal: Principal,
    row: PromptVersion,
    content: VersionContent,
) -> None:
    """Replace content and description, keeping what they were as a revision.

    Saving identical content again (a retry) records no revision. Tags given are added;
    existing tags and labels stay. Optional settings change only when given.
    """
    now = utcnow()
    unchanged = (row.template_text, row.messages, row.description) == (
        content.template_text,
        content.messages,
        content.description,
    )
    if not unchanged:
        session.add(
            PromptRevision(
                version_id=row.id,
                template_text=row.template_text,
                messages=row.messages,
                description=row.description,
                replaced_at=now,
                replaced_by=principal.user,
            )
        )
    row.template_text = content.template_text
    row.messages = content.messages
    row.description = content.description
    row.variables = content.variables
    for given, attribute in (
        (content.model_config, "llm_config"),
        (content.tools, "tools"),
        (content.response_format, "response_format"),
        (content.metadata, "meta"),
        (content.models, "models"),
    ):
        if given is not None:
            setattr(row, attribute, given)
    row.updated_at = now
    await session.flush()
    await _add_tags(session, db, row.id, content.tags or [])


async def _written(session: AsyncSession, row: PromptVersion, prompt: Prompt) -> VersionRecord:
    """The version with its tags and labels, read inside the write's own transaction."""
    await session.flush()
    tags = await session.execute(
        select(VersionTag.tag).where(VersionTag.version_id == row.id).order_by(VersionTag.tag)
    )
    labels = await session.execute(
        select(PromptLabel.name).where(PromptLabel.version_id == row.id).order_by(PromptLabel.name)
    )
    return VersionRecord(row, prompt, tuple(tags.scalars()), tuple(labels.scalars()))


async def create_version(
    db: Database, principal: Principal, name: str, version: int, content: VersionContent
) -> VersionRecord:
    """A new version; CONFLICT if that number exists. Creates the prompt if needed."""
    principal.require(Role.EDITOR)
    validation.version_number(version)
    content.validate()
    async with _transaction(db, principal) as session:
        prompt = await _lock_prompt(db, session, principal, name, content.type)
        await _check_models(session, principal, content.models or [])
        row = await _insert_version(db, session, principal, prompt, version, content)
        return await _written(session, row, prompt)


async def save_version(
    db: Database,
    principal: Principal,
    name: str,
    content: VersionContent,
    *,
    version: int | None,
    auto_increment: bool,
) -> VersionRecord:
    """Create or overwrite. With auto-increment the number is one past the highest ever used."""
    principal.require(Role.EDITOR)
    if version is not None:
        validation.version_number(version)
    content.validate()
    async with _transaction(db, principal) as session:
        prompt = await _lock_prompt(db, session, principal, name, content.type)
        await _check_models(session, principal, content.models or [])
        if auto_increment:
            highest = (
                await session.execute(
                    select(func.coalesce(func.max(PromptVersion.version), 0)).where(
                        PromptVersion.prompt_id == prompt.id
                    )
                )
            ).scalar_one()
            target = highest + 1
            if target > validation.MAX_STORED_INT:
                raise BadUserInput(f"prompt {name!r} has no version numbers left")
        else:
            target = version or 1
        existing = await _find_version(session, prompt, target)
        if existing is None:
            row = await _insert_version(db, session, principal, prompt, target, content)
        else:
            row = existing
            await _overwrite_version(db, session, principal, row, content)
        return await _written(session, row, prompt)


async def set_tags(
    db: Database, principal: Principal, name: str, version: int, tags: list[str]
) -> VersionRecord:
    principal.require(Role.EDITOR)
    validation.version_number(version)
    tags = validation.tags(tags)
    async with _transaction(db, principal) as session:
        prompt = await _lock_prompt(db, session, principal, name, None)
        row = await _version(session, prompt, version)
        await session.execute(delete(VersionTag).where(VersionTag.version_id == row.id))
        await _add_tags(session, db, row.id, tags)
        row.updated_at = prompt.updated_at
        return await _written(session, row, prompt)


async def set_label(
    db: Database, principal: Principal, name: str, label: str, version: int
) -> VersionRecord:
    """Point the label at this version, moving it off whichever version had it."""
    principal.require(Role.EDITOR)
    validation.label_name(label)
    validation.version_number(version)
    async with _transaction(db, principal) as session:
        prompt = await _lock_prompt(db, session, principal, name, None)
        row = await _version(session, prompt, version)
        statement = db.insert(PromptLabel).values(
            prompt_id=prompt.id, name=label, version_id=row.id, updated_at=prompt.updated_at
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[PromptLabel.prompt_id, PromptLabel.name],
                set_={"version_id": row.id, "updated_at": prompt.updated_at},
            )
        )
        return await _written(session, row, prompt)


async def remove_label(db: Database, principal: Principal, name: str, label: str) -> Prompt:
    principal.require(Role.EDITOR)
    validation.label_name(label)
    async with _transaction(db, principal) as session:
        prompt = await _lock_prompt(db, session, principal, name, None)
        removed = await session.execute(
            delete(PromptLabel).where(PromptLabel.prompt_id == prompt.id, PromptLabel.name == label)
        )
        if removed.rowcount == 0:
            raise NotFound(f"prompt {name!r} has no label {label!r}")
    return prompt


async def archive_version(
    db: Database, principal: Principal, name: str, version: int, archived: bool
) -> VersionRecord:
    principal.require(Role.EDITOR)
    validation.version_number(version)
    async with _transaction(db, principal) as session:
        prompt = await _lock_prompt(db, session, principal, name, None)
        row = await _version(session, prompt, version)
        row.is_active = not archived
        row.updated_at = prompt.updated_at
        return await _written(session, row, prompt)


async def create_integration(
    db: Database, principal: Principal, name: str, provider: str, models: list[str]
) -> Integration:
    principal.require(Role.ADMIN)
    validation.prompt_name(name, field="name")
    validation.free_name(provider, "provider")
    if not 1 <= len(models) <= MAX_MODELS:
        raise BadUserInput(f"models must list 1 to {MAX_MODELS} model names", field="models")
    for model in models:
        validation.free_name(model, "models", MAX_MODEL_LENGTH)
    row = Integration(
        workspace_id=principal.workspace_id,
        name=name,
        provider=provider,
        models=sorted(set(models)),
    )
    async with _transaction(db, principal) as session:
        session.add(row)
    return row
