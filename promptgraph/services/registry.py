"""Writes: versions, tags, labels, archiving and integrations.

Every write to a prompt or its versions first takes the prompt's row lock (by moving its
`updated_at`), so writes to one prompt are serialised: auto-increment numbers never collide,
overwrites never lose a revision, and a label never ends up on two versions.
"""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from promptgraph import changes
from promptgraph.db import Database
from promptgraph.models import (
    Integration,
    Prompt,
    PromptLabel,
    PromptVersion,
    VersionTag,
    utcnow,
)
from promptgraph.services import validation
from promptgraph.services.auth import Principal, Role
from promptgraph.services.content import (
    MAX_MODEL_LENGTH,
    MAX_MODELS,
    ContentUpdate,
    VersionContent,
    replace_content,
    split_model,
)
from promptgraph.services.errors import BadUserInput, NotFound, raise_for_integrity_error
from promptgraph.services.records import VersionRecord


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
    wanted = [split_model(model) for model in models]
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
        variables=content.variables,
        is_active=True,
        created_at=now,
        updated_at=now,
        created_by=principal.user,
        **content.columns,
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
    """Replace the whole content, keeping what it was as a revision (none when it is the same,
    so a retried save adds none). Tags given are added; existing tags and labels stay."""
    now = utcnow()
    revision = replace_content(row, content.columns, principal.user, now)
    if revision is not None:
        session.add(revision)
    row.variables = content.variables
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
    db: Database,
    principal: Principal,
    name: str,
    version: int,
    content: VersionContent,
    *,
    labels: Sequence[str] = (),
) -> VersionRecord:
    """A new version; CONFLICT if that number exists. Creates the prompt if needed. The
    labels are set on it in the same transaction, so if one cannot be, nothing is saved."""
    principal.require(Role.EDITOR)
    validation.version_number(version)
    content.validate()
    async with _transaction(db, principal) as session:
        prompt = await _lock_prompt(db, session, principal, name, content.type)
        await _check_models(session, principal, content.columns["models"])
        row = await _insert_version(db, session, principal, prompt, version, content)
        for label in sorted(set(labels)):
            await _place_label(db, session, prompt, row, label)
        return await _written(session, row, prompt)


async def save_version(
    db: Database,
    principal: Principal,
    name: str,
    content: VersionContent,
    *,
    version: int | None,
    auto_increment: bool,
    labels: Sequence[str] = (),
) -> VersionRecord:
    """Create or overwrite. With auto-increment the number is one past the highest ever used.
    The labels are set on the saved version in the same transaction (save and put live in
    one step), so if one cannot be, nothing is saved."""
    principal.require(Role.EDITOR)
    if version is not None:
        validation.version_number(version)
    content.validate()
    async with _transaction(db, principal) as session:
        prompt = await _lock_prompt(db, session, principal, name, content.type)
        await _check_models(session, principal, content.columns["models"])
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
        for label in sorted(set(labels)):
            await _place_label(db, session, prompt, row, label)
        return await _written(session, row, prompt)


async def update_version(
    db: Database, principal: Principal, name: str, version: int, update: ContentUpdate
) -> VersionRecord:
    """Change part of a version's content without re-sending the rest (archived versions
    too); what it held before is kept as a revision, unless nothing changes (a retry)."""
    principal.require(Role.EDITOR)
    validation.version_number(version)
    columns = update.columns()
    async with _transaction(db, principal) as session:
        prompt = await _lock_prompt(db, session, principal, name, None)
        row = await _version(session, prompt, version)
        if "models" in columns:
            await _check_models(session, principal, columns["models"])
        revision = replace_content(row, columns, principal.user, prompt.updated_at)
        if revision is not None:
            session.add(revision)
        row.updated_at = prompt.updated_at
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


async def _place_label(
    db: Database, session: AsyncSession, prompt: Prompt, row: PromptVersion, label: str
) -> None:
    """setLabel's rule, inside the caller's transaction on the locked prompt: the label now
    points at this version, moved off whichever version had it. Every write that sets a
    label goes through here, so they all follow the same rules."""
    validation.label_name(label)
    statement = db.insert(PromptLabel).values(
        prompt_id=prompt.id, name=label, version_id=row.id, updated_at=prompt.updated_at
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[PromptLabel.prompt_id, PromptLabel.name],
            set_={"version_id": row.id, "updated_at": prompt.updated_at},
        )
    )


async def set_label(
    db: Database, principal: Principal, name: str, label: str, version: int
) -> VersionRecord:
    """Point the label at this version, moving it off whichever version had it."""
    principal.require(Role.EDITOR)
    validation.version_number(version)
    async with _transaction(db, principal) as session:
        prompt = await _lock_prompt(db, session, principal, name, None)
        row = await _version(session, prompt, version)
        await _place_label(db, session, prompt, row, label)
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
