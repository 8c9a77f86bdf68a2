"""What the service layer hands to its callers."""

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from promptgraph.models import Prompt, PromptVersion

T = TypeVar("T")


@dataclass(frozen=True)
class VersionRecord:
    """A version with its prompt, which every version query joins in."""

    version: PromptVersion
    prompt: Prompt


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
