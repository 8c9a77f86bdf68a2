"""The registry's tables. Uniqueness rules of the contract live here, as constraints."""

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from promptgraph.models.types import JSONDocument, UTCDateTime, name_string, utcnow


def _created_at() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def _foreign_key(target: str, *, index: bool = True) -> Any:
    return Field(
        sa_column_args=[ForeignKey(target, ondelete="CASCADE")], nullable=False, index=index
    )


def _json(name: str, *, nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(name, JSONDocument, nullable=nullable))


class Workspace(SQLModel, table=True):
    __tablename__ = "workspace"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=name_string(64), unique=True, nullable=False)
    created_at: datetime = _created_at()


class User(SQLModel, table=True):
    __tablename__ = "app_user"
    __table_args__ = (UniqueConstraint("workspace_id", "name", name="uq_app_user_workspace_name"),)
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = _foreign_key("workspace.id", index=False)
    name: str = Field(sa_type=name_string(128), nullable=False)
    created_at: datetime = _created_at()


class ApiKey(SQLModel, table=True):
    """A key is `pgk_<public_id>_<secret>`; only a SHA-256 of the secret is kept."""

    __tablename__ = "api_key"
    __table_args__ = (CheckConstraint("role IN ('VIEWER', 'EDITOR', 'ADMIN')", name="role"),)
    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_type=name_string(32), unique=True, nullable=False)
    secret_sha256: str = Field(sa_type=name_string(64), nullable=False)
    user_id: int = _foreign_key("app_user.id")
    workspace_id: int = _foreign_key("workspace.id")
    role: str = Field(sa_type=name_string(16), nullable=False)
    created_at: datetime = _created_at()
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class Prompt(SQLModel, table=True):
    __tablename__ = "prompt"
    __table_args__ = (
        UniqueConstraint("workspace_id", "name", name="uq_prompt_workspace_name"),
        CheckConstraint("type IN ('TEXT', 'CHAT')", name="type"),
    )
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = _foreign_key("workspace.id", index=False)
    name: str = Field(sa_type=name_string(128), nullable=False)
    type: str = Field(sa_type=name_string(8), nullable=False)
    created_at: datetime = _created_at()
    updated_at: datetime = _created_at()


class PromptVersion(SQLModel, table=True):
    __tablename__ = "prompt_version"
    __table_args__ = (
        UniqueConstraint("prompt_id", "version", name="uq_prompt_version_prompt_version"),
        CheckConstraint("version >= 1", name="version_positive"),
    )
    id: int | None = Field(default=None, primary_key=True)
    prompt_id: int = _foreign_key("prompt.id", index=False)
    version: int = Field(sa_type=Integer, nullable=False)
    template_text: str | None = Field(default=None, sa_type=Text, nullable=True)
    messages: list[dict[str, Any]] | None = _json("messages")
    variables: list[str] = _json("variables", nullable=False)
    description: str | None = Field(default=None, sa_type=Text, nullable=True)
    llm_config: dict[str, Any] | None = _json("llm_config")
    tools: Any = _json("tools")
    response_format: Any = _json("response_format")
    meta: dict[str, Any] = _json("meta", nullable=False)
    models: list[str] = _json("models", nullable=False)
    is_active: bool = Field(default=True, nullable=False)
    created_at: datetime = _created_at()
    updated_at: datetime = _created_at()
    created_by: str = Field(sa_type=name_string(128), nullable=False)


class PromptRevision(SQLModel, table=True):
    """The whole content a save or an update replaced: the content columns of a version."""

    __tablename__ = "prompt_revision"
    id: int | None = Field(default=None, primary_key=True)
    version_id: int = _foreign_key("prompt_version.id")
    template_text: str | None = Field(default=None, sa_type=Text, nullable=True)
    messages: list[dict[str, Any]] | None = _json("messages")
    description: str | None = Field(default=None, sa_type=Text, nullable=True)
    llm_config: dict[str, Any] | None = _json("llm_config")
    tools: Any = _json("tools")
    response_format: Any = _json("response_format")
    meta: dict[str, Any] = _json("meta", nullable=False)
    models: list[str] = _json("models", nullable=False)
    replaced_at: datetime = _created_at()
    replaced_by: str = Field(sa_type=name_string(128), nullable=False)


class VersionTag(SQLModel, table=True):
    __tablename__ = "version_tag"
    __table_args__ = (Index("ix_version_tag_tag", "tag", "version_id"),)
    version_id: int = Field(
        sa_column_args=[ForeignKey("prompt_version.id", ondelete="CASCADE")], primary_key=True
    )
    tag: str = Field(sa_type=name_string(64), primary_key=True)


class PromptLabel(SQLModel, table=True):
    __tablename__ = "prompt_label"
    __table_args__ = (UniqueConstraint("prompt_id", "name", name="uq_prompt_label_prompt_name"),)
    id: int | None = Field(default=None, primary_key=True)
    prompt_id: int = _foreign_key("prompt.id", index=False)
    name: str = Field(sa_type=name_string(63), nullable=False)
    version_id: int = _foreign_key("prompt_version.id")
    updated_at: datetime = _created_at()


class Integration(SQLModel, table=True):
    __tablename__ = "integration"
    __table_args__ = (
        UniqueConstraint("workspace_id", "name", name="uq_integration_workspace_name"),
    )
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = _foreign_key("workspace.id", index=False)
    name: str = Field(sa_type=name_string(128), nullable=False)
    provider: str = Field(sa_type=name_string(128), nullable=False)
    models: list[str] = _json("models", nullable=False)
    created_at: datetime = _created_at()
