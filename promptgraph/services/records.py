"""What the service layer hands to its callers."""

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from promptgraph.models import Prompt, PromptVersion

T = TypeVar("T")


@dataclass(frozen=True)
class VersionRecord:
    """A version with its prompt, which every version query joins in.

    A write also hands back the version's tags and labels as its transaction left them, so
    a mutation's answer never needs a read after the commit, which could fail and make a
    stored write look failed.
    """

    version: PromptVersion
    prompt: Prompt
    tags: tuple[str, ...] | None = None
    labels: tuple[str, ...] | None = None


@dataclass(frozen=True)
class PageResult(Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int


@dataclass(frozen=True)
class LabelRecord:
    name: str
    version: int
    updated_at: datetime


@dataclass(frozen=True)
class DeletedPrompt:
    name: str
    versions_deleted: int
