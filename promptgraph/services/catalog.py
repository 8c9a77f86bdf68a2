"""Reads: listing and looking up prompts and versions, always inside the caller's workspace.

A prompt or FQN of another workspace is treated exactly like one that does not exist.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.orm import aliased

from promptgraph.db import Database
from promptgraph.models import Prompt, PromptLabel, PromptVersion, VersionTag
from promptgraph.services import validation
from promptgraph.services.auth import Principal
from promptgraph.services.errors import BadUserInput
from promptgraph.services.records import PageResult, VersionRecord
from promptgraph.services.validation import LATEST, Fqn, Page, VersionSelector


def versions_with_prompt() -> Select[Any]:
    return select(PromptVersion, Prompt).join(Prompt, Prompt.id == PromptVersion.prompt_id)


def is_latest_version() -> Any:
    """True for the highest-numbered active version of its prompt."""
    newer = aliased(PromptVersion)
    return and_(
        PromptVersion.is_active,
        ~exists().where(
            newer.prompt_id == PromptVersion.prompt_id,
            newer.is_active,
            newer.version > PromptVersion.version,
        ),
    )


def has_tag(tag: str) -> Any:
    return exists().where(VersionTag.version_id == PromptVersion.id, VersionTag.tag == tag)


def has_label(label: str) -> Any:
    return exists().where(PromptLabel.version_id == PromptVersion.id, PromptLabel.name == label)


def to_records(rows: Sequence[Any]) -> list[VersionRecord]:
    return [VersionRecord(version, prompt) for version, prompt in rows]


async def paginate(db: Database, statement: Select[Any], page: Page) -> tuple[list[Any], int]:
    """Rows of one page, and the count before offset/limit."""
    async with db.read() as session:
        total = (
            await session.execute(
                select(func.count()).select_from(statement.order_by(None).subquery())
            )
        ).scalar_one()
        rows = (await session.execute(statement.offset(page.offset).limit(page.limit))).all()
    return list(rows), total


def _selector_and_label(
    version: VersionSelector | None, label: str | None, *, exclusive: bool
) -> tuple[VersionSelector | None, str | None]:
    """`label: "latest"` means the latest version, so agents can treat it as any label.
    A lookup takes one of version and label; a list filters by both."""
    if exclusive and version is not None and label is not None:
        raise BadUserInput("give either version or label, not both")
    if label == LATEST and version is None:
        return LATEST, None
    return version, label


def _resolve_name(
    principal: Principal, name: str | None, fqn: str | None, version: VersionSelector | None
) -> tuple[str | None, VersionSelector | None]:
    """The prompt name to look for (None: nothing can match) and the version selector."""
    if fqn is None:
        return (None if name is None else validation.prompt_name(name)), version
    parsed = Fqn.parse(fqn)
    if parsed.version is not None and version is not None:
        raise BadUserInput("the fqn names a version already; do not also give version")
    if parsed.workspace != principal.workspace:
        return None, None
    return parsed.name, parsed.version if parsed.version is not None else version


async def list_prompts(
    db: Database, principal: Principal, *, search: str | None, tag: str | None, page: Page
) -> PageResult[Prompt]:
    statement = select(Prompt).where(Prompt.workspace_id == principal.workspace_id)
    if search:
        statement = statement.where(
            Prompt.name.icontains(validation.search_text(search), autoescape=True)
        )
    if tag is not None:
        statement = statement.where(
            exists().where(
                PromptVersion.prompt_id == Prompt.id,
                PromptVersion.is_active,
                has_tag(validation.tag_filter(tag)),
            )
        )
    rows, total = await paginate(db, statement.order_by(Prompt.name), page)
    return PageResult([prompt for (prompt,) in rows], total, page.offset, page.limit)


async def find_prompt(
    db: Database, principal: Principal, *, name: str | None, fqn: str | None
) -> Prompt | None:
    validation.one_of({"name": name, "fqn": fqn})
    prompt_name, selector = _resolve_name(principal, name, fqn, None)
    if selector is not None:
        raise BadUserInput("a prompt fqn has no version; use promptVersion for versions")
    if prompt_name is None:
        return None
    async with db.read() as session:
        return (
            await session.execute(
                select(Prompt).where(
                    Prompt.workspace_id == principal.workspace_id, Prompt.name == prompt_name
                )
            )
        ).scalar_one_or_none()


async def list_versions(
    db: Database,
    principal: Principal,
    *,
    name: str | None,
    fqn: str | None,
    prompt_id: str | None,
    tag: str | None,
    label: str | None,
    version: VersionSelector | None,
    include_archived: bool,
    page: Page,
) -> PageResult[VersionRecord]:
    """Filters combine with AND. Versions asked for by number or label include archived ones."""
    version, label = _selector_and_label(version, label, exclusive=False)
    prompt_name, version = _resolve_name(principal, name, fqn, version)
    if fqn is not None and prompt_name is None:
        return PageResult([], 0, page.offset, page.limit)
    statement = versions_with_prompt().where(Prompt.workspace_id == principal.workspace_id)
    if prompt_name is not None:
        statement = statement.where(Prompt.name == prompt_name)
    if name is not None and fqn is not None:
        statement = statement.where(Prompt.name == validation.prompt_name(name))
    if prompt_id is not None:
        if not (prompt_id.isascii() and prompt_id.isdigit()):
            raise BadUserInput(
                f"promptId {validation.shown(prompt_id)} is not a prompt id", field="promptId"
            )
        if len(prompt_id) > 10 or int(prompt_id) > validation.MAX_STORED_INT:
            return PageResult([], 0, page.offset, page.limit)
        statement = statement.where(Prompt.id == int(prompt_id))
    if tag is not None:
        statement = statement.where(has_tag(validation.tag_filter(tag)))
    if label is not None:
        statement = statement.where(has_label(validation.label_name(label)))
    if version == LATEST:
        statement = statement.where(is_latest_version())
    elif version is not None:
        statement = statement.where(PromptVersion.version == version)
    elif label is None and not include_archived:
        statement = statement.where(PromptVersion.is_active)
    statement = statement.order_by(Prompt.name, PromptVersion.version.desc())
    rows, total = await paginate(db, statement, page)
    return PageResult(to_records(rows), total, page.offset, page.limit)


def version_lookup(
    statement: Select[Any], version: VersionSelector | None, label: str | None
) -> Select[Any]:
    """Narrow a version query to one selector: a number, a label, or latest (the default)."""
    if label is not None:
        return statement.where(has_label(validation.label_name(label)))
    if version is None or version == LATEST:
        return statement.where(is_latest_version())
    return statement.where(PromptVersion.version == version)


async def find_version(
    db: Database,
    principal: Principal,
    *,
    name: str | None,
    fqn: str | None,
    version: VersionSelector | None,
    label: str | None,
) -> VersionRecord | None:
    validation.one_of({"name": name, "fqn": fqn})
    version, label = _selector_and_label(version, label, exclusive=True)
    prompt_name, version = _resolve_name(principal, name, fqn, version)
    if prompt_name is None:
        return None
    if label is not None and version is not None:
        raise BadUserInput("the fqn names a version already; do not also give label")
    statement = version_lookup(
        versions_with_prompt().where(
            Prompt.workspace_id == principal.workspace_id, Prompt.name == prompt_name
        ),
        version,
        label,
    )
    async with db.read() as session:
        row = (await session.execute(statement)).first()
    return None if row is None else VersionRecord(*row)
